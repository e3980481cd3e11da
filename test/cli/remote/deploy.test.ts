import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { followDeploy, parseOutcome } from '../../../src/cli/remote/deploy.ts';
import { BerthError } from '../../../src/errors.ts';
import { GOOD_TOKEN, startFakeDaemon, type FakeDaemon } from './fake-daemon.ts';
import { berth, tempDir, testEnv } from './run-berth.ts';

const RELEASE = { version: 4, name: 'v4', kind: 'deploy', description: 'Deploy', status: 'succeeded', createdAt: '2026-01-02T03:04:05.678Z', current: true, configKeys: [] };

async function setup(t: { after(fn: () => unknown): void }): Promise<{ daemon: FakeDaemon; dir: string; env: Record<string, string> }> {
  const daemon = await startFakeDaemon(t);
  const env = await testEnv(t, { url: daemon.url, token: GOOD_TOKEN });
  daemon.apps.set('shop', { name: 'shop', createdAt: RELEASE.createdAt, releases: [], config: {}, formation: {}, domains: [] });
  const dir = await tempDir(t, 'berth-app-');
  writeFileSync(join(dir, 'Procfile'), 'web: node server.js\n');
  writeFileSync(join(dir, 'server.js'), 'console.log("hi")\n'.repeat(1000));
  mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'x', 'index.js'), 'left out');
  writeFileSync(join(dir, '.berthignore'), 'secret.txt\n');
  writeFileSync(join(dir, 'secret.txt'), 'left out too');
  return { daemon, dir, env };
}

async function* lines(...items: Array<string | Error>): AsyncGenerator<string> {
  for (const item of items) {
    if (item instanceof Error) throw item;
    yield item;
  }
}

test('a deploy uploads the packed folder, prints the build lines and ends with the release', async (t) => {
  const { daemon, dir, env } = await setup(t);
  const run = await berth(['deploy', dir, '--app', 'shop', '--message', 'Faster checkout'], { env });
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /^uploading 3 files \(18 KiB\) to shop on http:\/\/127\.0\.0\.1:\d+\n/);
  assert.match(run.out, /\n-----> receiving\n-----> received 3 files\n-----> building\ndeployed shop: v1 is live\n$/);
  assert.doesNotMatch(run.out, /"result"/);
  // What arrived is the folder without node_modules/ and what .berthignore leaves out.
  assert.deepEqual(daemon.lastUpload, { files: 3, bytes: 20 + 18_000 + 11 });
  const request = daemon.requests.at(-1)!;
  assert.equal(request.url, '/apps/shop/deploy');
  assert.equal(request.headers['content-type'], 'application/gzip');
  assert.equal(request.headers['x-berth-description'], 'Faster checkout');
  assert.equal(request.headers['transfer-encoding'], 'chunked');
  assert.equal(daemon.apps.get('shop')!.releases[0]!.description, 'Faster checkout');
});

test('build lines are printed as they arrive, before the deploy ends', async (t) => {
  const { daemon, dir, env } = await setup(t);
  let printed!: () => void;
  const firstLinePrinted = new Promise<void>((resolve) => (printed = resolve));
  daemon.deploy = async ({ res }) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('-----> step one\n');
    // The deploy goes on only once the CLI has shown the first line.
    await firstLinePrinted;
    res.end(`-----> step two\n${JSON.stringify({ result: 'ok', release: RELEASE })}\n`);
  };
  const run = await berth(['deploy', dir, '--app', 'shop'], { env }, (text) => {
    if (text === '-----> step one\n') printed();
  });
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /-----> step one\n-----> step two\ndeployed shop: v4 is live\n$/);
});

test('an {"error": …} last line is printed as "berth: MESSAGE [CODE]" and "hint: …", exit 1', async (t) => {
  const { daemon, dir, env } = await setup(t);
  daemon.deploy = async ({ res }) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`-----> npm ci\nnpm ERR! missing script: build\n${JSON.stringify({ error: { code: 'BERTH_E_INSTALL', message: 'npm ci failed (exit 1)', hint: 'fix the problem shown above' } })}\n`);
  };
  const run = await berth(['deploy', dir, '--app', 'shop'], { env });
  assert.equal(run.code, 1);
  assert.match(run.out, /\n-----> npm ci\nnpm ERR! missing script: build\n$/);
  assert.equal(run.err, 'berth: npm ci failed (exit 1) [BERTH_E_INSTALL]\nhint: fix the problem shown above\n');
});

test('an error last line without a hint prints only the message', async (t) => {
  const { daemon, dir, env } = await setup(t);
  daemon.deploy = async ({ res }) => {
    res.writeHead(200);
    res.end(`${JSON.stringify({ error: { code: 'BERTH_E_INTERNAL', message: 'internal error' } })}\n`);
  };
  const run = await berth(['deploy', dir, '--app', 'shop'], { env });
  assert.equal(run.code, 1);
  assert.equal(run.err, 'berth: internal error [BERTH_E_INTERNAL]\n');
});

test('a connection dropped before the last line is a clear error, exit 1, after the lines that came', async (t) => {
  const { daemon, dir, env } = await setup(t);
  daemon.deploy = async ({ res }) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('-----> building\npartial li');
    setTimeout(() => res.destroy(), 20);
  };
  const run = await berth(['deploy', dir, '--app', 'shop'], { env });
  assert.equal(run.code, 1);
  assert.match(run.out, /\n-----> building\npartial li\n$/);
  assert.match(run.err, /^berth: the berth server closed the connection before its answer was complete( \(\w+\))? \[BERTH_E_CONNECTION_LOST\]\nhint: .*berth releases --app NAME/);
});

test('an answer that ends cleanly without a last line is an error too', async (t) => {
  const { daemon, dir, env } = await setup(t);
  daemon.deploy = async ({ res }) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('-----> building\n{"result": "maybe"}\n');
  };
  const run = await berth(['deploy', dir, '--app', 'shop'], { env });
  assert.equal(run.code, 1);
  assert.match(run.out, /\n-----> building\n\{"result": "maybe"\}\n$/);
  assert.equal(run.err, 'berth: the deploy of shop ended without saying whether it succeeded [BERTH_E_CONNECTION_LOST]\nhint: Check `berth releases --app shop` to see whether it released.\n');
});

test('a refusal before the stream starts (unknown app, 413) is the API error', async (t) => {
  const { daemon, dir, env } = await setup(t);
  const unknown = await berth(['deploy', dir, '--app', 'nope'], { env });
  assert.equal(unknown.code, 1);
  assert.equal(unknown.err, 'berth: no app is named nope [BERTH_E_APP_NOT_FOUND]\nhint: Check `berth apps list`.\n');
  daemon.deploy = async ({ res }) => {
    res.writeHead(413, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'BERTH_E_ARCHIVE_TOO_LARGE', message: 'the upload is larger than 10 bytes', hint: 'use .berthignore' }));
  };
  const large = await berth(['deploy', dir, '--app', 'shop'], { env });
  assert.equal(large.err, 'berth: the upload is larger than 10 bytes [BERTH_E_ARCHIVE_TOO_LARGE]\nhint: use .berthignore\n');
});

test('nothing to deploy, or no credentials, fails before anything is sent', async (t) => {
  const { daemon, env } = await setup(t);
  const empty = await tempDir(t, 'berth-empty-');
  writeFileSync(join(empty, '.gitignore'), '*\n');
  const nothing = await berth(['deploy', empty, '--app', 'shop'], { env });
  assert.equal(nothing.code, 1);
  assert.match(nothing.err, /\[BERTH_E_NOTHING_TO_DEPLOY\]/);
  const missing = await berth(['deploy', join(empty, 'missing'), '--app', 'shop'], { env });
  assert.match(missing.err, /is not a folder \[BERTH_E_APP_DIR\]/);
  const loggedOut = await berth(['deploy', empty, '--app', 'shop'], { env: await testEnv(t) });
  assert.match(loggedOut.err, /\[BERTH_E_NOT_LOGGED_IN\]/);
  const badMessage = await berth(['deploy', empty, '--app', 'shop', '--message', 'two\nlines'], { env });
  assert.match(badMessage.err, /\[BERTH_E_USAGE\]/);
  assert.equal(daemon.requests.length, 0);
});

test('the outcome is the last line only: outcome-shaped lines before it are build output', async () => {
  const printed: string[] = [];
  const ok = JSON.stringify({ result: 'ok', release: RELEASE });
  const early = JSON.stringify({ error: { code: 'BERTH_E_INSTALL', message: 'a tool printed this' } });
  const outcome = await followDeploy(lines('one', early, 'two', ok), (line) => printed.push(line));
  assert.deepEqual(outcome, { result: 'ok', release: RELEASE });
  assert.deepEqual(printed, ['one', early, 'two']);
});

test('a connection lost right after the outcome line keeps the outcome; lost before it, the error is thrown', async () => {
  const lost = new BerthError('BERTH_E_CONNECTION_LOST', 'closed');
  const ok = JSON.stringify({ result: 'ok', release: RELEASE });
  assert.equal((await followDeploy(lines('one', ok, lost), () => {}))?.constructor, Object);
  const printed: string[] = [];
  await assert.rejects(followDeploy(lines('one', lost), (line) => printed.push(line)), lost);
  assert.deepEqual(printed, ['one']);
  assert.equal(await followDeploy(lines('one', 'two'), () => {}), null);
});

test('outcome lines are recognised strictly', () => {
  assert.deepEqual(parseOutcome(JSON.stringify({ result: 'ok', release: RELEASE })), { result: 'ok', release: RELEASE });
  assert.deepEqual(parseOutcome('{"error":{"code":"BERTH_E_X","message":"m"}}'), { error: { code: 'BERTH_E_X', message: 'm' } });
  for (const line of ['', 'building', '{', '{"result":"ok"}', '{"result":"fail","release":{}}', '{"error":"x"}', '{"error":{"code":"nope","message":"m"}}']) {
    assert.equal(parseOutcome(line), null, line);
  }
});

test('a large upload streams while the answer has already started', async (t) => {
  const { daemon, dir, env } = await setup(t);
  const { randomBytes } = await import('node:crypto');
  writeFileSync(join(dir, 'assets.bin'), randomBytes(8 * 1024 * 1024));
  const run = await berth(['deploy', dir, '--app', 'shop'], { env });
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /^uploading 4 files \(8\.0 MiB\)/);
  assert.equal(daemon.lastUpload?.files, 4);
  assert.equal(daemon.lastUpload?.bytes, 8 * 1024 * 1024 + 20 + 18_000 + 11);
});

test('a refused upload reads the same whether it came as an error answer (400) or as the stream\'s last line', async (t) => {
  const { daemon, dir, env } = await setup(t);
  const error = { code: 'BERTH_E_ARCHIVE', message: 'the upload holds an unsafe entry "../x"', hint: 'upload with `berth deploy`, which never builds such an archive' };
  daemon.deploy = async ({ res }) => {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify(error));
  };
  const asStatus = await berth(['deploy', dir, '--app', 'shop'], { env });
  daemon.deploy = async ({ res }) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${JSON.stringify({ error })}\n`);
  };
  const asLine = await berth(['deploy', dir, '--app', 'shop'], { env });
  assert.equal(asStatus.code, 1);
  assert.equal(asLine.code, 1);
  assert.equal(asStatus.err, 'berth: the upload holds an unsafe entry "../x" [BERTH_E_ARCHIVE]\nhint: upload with `berth deploy`, which never builds such an archive\n');
  assert.equal(asLine.err, asStatus.err);
});
