import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, eventually } from '../helpers/berth-process.ts';
import { deployDir, startDaemon, viaEdge, type Daemon } from '../helpers/daemon.ts';

// An app that logs every request it answers, to stdout, and failures to stderr.
const APP = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  if (req.url.startsWith('/fail')) console.error('FAILED ' + req.url);
  else console.log('hit ' + req.url);
  res.end('ok');
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function logs(d: Daemon, app: string, query = ''): Promise<{ status: number; lines: string[]; json: any }> {
  const res = await fetch(`${d.api}/apps/${app}/logs${query}`, { headers: { authorization: `Bearer ${d.token}` } });
  const text = await res.text();
  if (res.headers.get('content-type')?.startsWith('application/json')) return { status: res.status, lines: [], json: JSON.parse(text) };
  return { status: res.status, lines: text.split('\n').filter((line) => line !== ''), json: null };
}

/** The text part of `TIME SOURCE | TEXT` lines. */
const texts = (lines: readonly string[]) => lines.map((line) => line.slice(line.indexOf(' | ') + 3));

async function cli(args: string[], d: Daemon, root: string): Promise<{ code: number | null; output: string }> {
  const run = new BerthProcess(args, { env: { BERTH_SERVER: d.api, BERTH_TOKEN: d.token, XDG_CONFIG_HOME: join(root, 'config') } });
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
  const { code } = await run.exited;
  clearTimeout(timer);
  return { code, output: run.output };
}

test('app logs survive a daemon restart, and since/grep filter them in the API and the CLI', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-app-logs-'));
  const state = join(root, 'state');
  let d = await startDaemon(state);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));

  const appDir = join(root, 'shop');
  await mkdir(appDir);
  await writeFile(join(appDir, 'server.mjs'), APP);
  await writeFile(join(appDir, 'Procfile'), 'web: node server.mjs\n');
  const created = await fetch(`${d.api}/apps`, { method: 'POST', headers: { authorization: `Bearer ${d.token}` }, body: JSON.stringify({ name: 'shop' }) });
  assert.equal(created.status, 201);
  const deployed = await deployDir(d, 'shop', appDir);
  assert.equal(deployed.last.result, 'ok', deployed.lines.join('\n'));

  await t.test('lines are written to STATE/logs/NAME/app.log, one JSON object each, private to berth', async () => {
    for (const path of ['/before-restart/1', '/before-restart/2', '/fail/before']) assert.equal((await viaEdge(d.edge, 'shop.localhost', path)).status, 200);
    await eventually('the app logged the requests', async () => texts((await logs(d, 'shop')).lines).includes('FAILED /fail/before'));
    const dir = join(state, 'logs', 'shop');
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'app.log'))).mode & 0o777, 0o600);
    const stored = (await readFile(join(dir, 'app.log'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.ok(stored.some((line) => line.source === 'web.1' && line.text === 'hit /before-restart/1'));
    assert.ok(stored.some((line) => line.source === 'build'));
    for (const line of stored) assert.deepEqual(Object.keys(line), ['at', 'source', 'text']);
  });

  const restartedAt = new Date();
  await t.test('after a restart, berth logs shows what happened before it', async () => {
    await d.berth.stop('SIGTERM');
    d = await startDaemon(state);
    const after = texts((await logs(d, 'shop', '?lines=2000')).lines);
    assert.ok(after.includes('hit /before-restart/1'), after.join('\n'));
    assert.ok(after.includes('FAILED /fail/before'));
    assert.ok(after.some((text) => text.startsWith('building ')), 'the build lines too');
    assert.ok(after.indexOf('hit /before-restart/1') < after.indexOf('hit /before-restart/2'));
    await eventually('shop serves again', async () => (await viaEdge(d.edge, 'shop.localhost', '/after-restart')).status === 200, 30_000);
    await eventually('the new instance logged', async () => texts((await logs(d, 'shop')).lines).includes('hit /after-restart'));
  });

  await t.test('grep keeps the lines whose text contains a plain, case-sensitive string', async () => {
    assert.deepEqual(texts((await logs(d, 'shop', '?grep=before-restart')).lines), ['hit /before-restart/1', 'hit /before-restart/2']);
    assert.deepEqual(texts((await logs(d, 'shop', '?grep=BEFORE-RESTART')).lines), []);
    // Taken literally, never as a pattern.
    assert.deepEqual(texts((await logs(d, 'shop', `?grep=${encodeURIComponent('.*')}`)).lines), []);
    assert.deepEqual(texts((await logs(d, 'shop', '?grep=hit%20%2F&lines=2')).lines), ['hit /before-restart/2', 'hit /after-restart']);
    assert.deepEqual(texts((await logs(d, 'shop', '?grep=hit&process=worker')).lines), []);
    assert.equal((await logs(d, 'shop', '?grep=hit&process=web')).lines.length, 3);
  });

  await t.test('since keeps the lines from a time, or from a duration back from now', async () => {
    const sinceRestart = texts((await logs(d, 'shop', `?lines=2000&since=${restartedAt.toISOString()}`)).lines);
    assert.ok(sinceRestart.includes('hit /after-restart'));
    assert.ok(!sinceRestart.includes('hit /before-restart/1'), sinceRestart.join('\n'));
    const lastTenMinutes = texts((await logs(d, 'shop', '?lines=2000&since=10m')).lines);
    assert.ok(lastTenMinutes.includes('hit /before-restart/1'));
    assert.deepEqual(texts((await logs(d, 'shop', `?since=${new Date(Date.now() + 3_600_000).toISOString()}`)).lines), []);
    const bad = await logs(d, 'shop', '?since=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'BERTH_E_USAGE');
  });

  await t.test('berth logs --since --grep on the command line', async () => {
    const run = await cli(['logs', '--app', 'shop', '--since', '10m', '--grep', 'hit /'], d, root);
    assert.equal(run.code, 0, run.output);
    const lines = run.output.trim().split('\n');
    assert.deepEqual(texts(lines), ['hit /before-restart/1', 'hit /before-restart/2', 'hit /after-restart']);
    for (const line of lines) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z web\.1 \| /);
    const since = await cli(['logs', '--app', 'shop', '--since', restartedAt.toISOString(), '--grep', 'hit /'], d, root);
    assert.deepEqual(texts(since.output.trim().split('\n')), ['hit /after-restart']);
    const bad = await cli(['logs', '--app', 'shop', '--since', 'a while'], d, root);
    assert.equal(bad.code, 1);
    assert.match(bad.output, /BERTH_E_USAGE/);
  });

  await t.test('a followed stream applies grep to new lines too', async () => {
    // One matching line first, so the answer starts at once.
    await viaEdge(d.edge, 'shop.localhost', '/live/0');
    await eventually('the first live line is logged', async () => (await logs(d, 'shop', '?grep=live')).lines.length === 1);
    const aborted = new AbortController();
    const res = await fetch(`${d.api}/apps/shop/logs?follow=1&lines=5&grep=live`, {
      headers: { authorization: `Bearer ${d.token}` },
      signal: AbortSignal.any([aborted.signal, AbortSignal.timeout(30_000)]),
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    for (let i = 0; i < 100 && !text.includes('/live/0'); i++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += chunk.value;
    }
    await viaEdge(d.edge, 'shop.localhost', '/not-this-one');
    await viaEdge(d.edge, 'shop.localhost', '/live/1');
    for (let i = 0; i < 100 && !text.includes('/live/1'); i++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += chunk.value;
    }
    aborted.abort();
    await reader.cancel().catch(() => {});
    assert.deepEqual(texts(text.trim().split('\n')), ['hit /live/0', 'hit /live/1']);
  });

  await t.test('destroying the app removes its logs', async () => {
    const res = await fetch(`${d.api}/apps/shop?confirm=shop`, { method: 'DELETE', headers: { authorization: `Bearer ${d.token}` } });
    assert.equal(res.status, 200);
    // What is left is the edge process's own log (it wrote there while no daemon was connected), no app's.
    assert.deepEqual((await readdir(join(state, 'logs'))).filter((name) => !name.startsWith('edge.log')), []);
  });
});
