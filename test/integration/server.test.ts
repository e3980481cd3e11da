import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, stat, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { packSource } from '../../src/build/index.ts';
import { EXAMPLES, eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, viaEdge as edgeGet } from '../helpers/daemon.ts';

const APP = (version: string, boot = '') => `
import { createServer } from 'node:http';
${boot}
const server = createServer((req, res) => {
  if (req.url === '/env') return res.end(JSON.stringify({ version: '${version}', greeting: process.env.GREETING ?? null, release: process.env.BERTH_RELEASE }));
  res.end('${version}');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

const call = apiCall;
const deploy = deployDir;

async function appDir(root: string, name: string, source: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.mjs'), source);
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\n');
  return dir;
}

test('berth server: deploys, config releases and rollbacks of real apps, surviving a daemon restart', { timeout: 240_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-server-'));
  const state = join(root, 'state');
  let d = await startDaemon(state, 2);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));

  await t.test('the admin token file is private, and every call needs a valid token', async () => {
    assert.equal((await stat(join(state, 'admin-token'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(state, 'berth.db'))).mode & 0o777, 0o600);
    assert.equal((await call(d, 'GET', '/apps', undefined, 'berth_wrong')).status, 401);
  });

  await t.test('bad input is refused clearly and changes nothing', async () => {
    const bad = await call(d, 'POST', '/apps', { name: 'bad;name' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'BERTH_E_NAME');
    const malformed = await call(d, 'POST', '/apps', '{"name":');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.code, 'BERTH_E_BAD_JSON');
    assert.equal((await call(d, 'GET', '/apps/nope')).status, 404);
    assert.deepEqual((await call(d, 'GET', '/apps')).json, { apps: [] });
  });

  assert.equal((await call(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  assert.equal((await call(d, 'POST', '/apps', { name: 'shop' })).status, 409);

  await t.test('a deploy builds, releases v1 and serves it at NAME.localhost; other hosts get 404', async () => {
    const { lines, last } = await deploy(d, 'shop', await appDir(root, 'v1', APP('v1')));
    assert.equal(last.result, 'ok', lines.join('\n'));
    assert.equal(last.release.name, 'v1');
    assert.deepEqual(await edgeGet(d.edge, 'shop.localhost'), { status: 200, body: 'v1' });
    assert.equal((await edgeGet(d.edge, 'other.localhost')).status, 404);
  });

  await t.test('deploying an empty folder is refused and nothing changes', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await assert.rejects(packSource(empty), /nothing to deploy/);
    assert.equal((await call(d, 'GET', '/apps/shop/releases')).json.releases.length, 1);
  });

  await t.test('an upload with a ../ entry is refused naming the entry, and nothing lands outside or changes', async () => {
    const body = Buffer.from('owned\n');
    const block = Buffer.alloc(512);
    new Header({ path: '../escape.txt', type: 'File', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: new Date('2024-01-01T00:00:00Z') }).encode(block);
    const archive = gzipSync(Buffer.concat([block, body, Buffer.alloc(512 - body.length), Buffer.alloc(1024)]));
    const res = await fetch(`${d.api}/apps/shop/deploy`, { method: 'POST', headers: { authorization: `Bearer ${d.token}` }, body: archive });
    assert.equal(res.status, 400, 'refused before the stream starts: an error answer with its status');
    const answer = (await res.json()) as { code: string; message: string };
    assert.equal(answer.code, 'BERTH_E_ARCHIVE');
    assert.match(answer.message, /escape\.txt/);
    assert.equal(existsSync(join(state, 'apps', 'shop', 'escape.txt')), false);
    assert.equal(existsSync(join(state, 'apps', 'shop', 'builds', 'escape.txt')), false);
    assert.equal((await call(d, 'GET', '/apps/shop/releases')).json.releases.length, 1);
  });

  await t.test('an oversized upload is refused before anything is read', async () => {
    const { hostname, port } = new URL(d.api);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: hostname, port, method: 'POST', path: '/apps/shop/deploy', headers: { authorization: `Bearer ${d.token}`, 'content-length': String(600 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
    });
    assert.equal(status, 413);
    assert.equal((await call(d, 'GET', '/apps/shop/releases')).json.releases.length, 1);
  });

  await t.test('under load, config changes and redeploys answer every request', async () => {
    const failures: string[] = [];
    let ok = 0;
    let stop = false;
    const deadline = Date.now() + 120_000;
    const worker = async () => {
      while (!stop && Date.now() < deadline && failures.length < 20) {
        try {
          const res = await edgeGet(d.edge, 'shop.localhost');
          if (res.status === 200) ok++;
          else failures.push(`${res.status} ${res.body}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 6 }, worker));
    for (let i = 1; i <= 5; i++) {
      const changed = await call(d, 'PATCH', '/apps/shop/config', { set: { GREETING: `hello ${i}` } });
      assert.equal(changed.status, 200, JSON.stringify(changed.json));
    }
    for (const version of ['v2-code', 'v3-code']) {
      const { last, lines } = await deploy(d, 'shop', await appDir(root, version, APP(version)));
      assert.equal(last.result, 'ok', lines.join('\n'));
    }
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    assert.ok(ok > 50, `only ${ok} requests ran`);
    const env = JSON.parse((await edgeGet(d.edge, 'shop.localhost', '/env')).body);
    assert.deepEqual([env.version, env.greeting], ['v3-code', 'hello 5']);
  });

  await t.test('a release that exits at once fails its deploy, and the old one keeps serving', async () => {
    const { last } = await deploy(d, 'shop', await appDir(root, 'broken', APP('broken', "console.error('cannot connect to the database'); process.exit(1);")));
    assert.equal(last.error.code, 'BERTH_E_RELEASE_FAILED');
    assert.match(last.error.hint, /cannot connect to the database/);
    assert.equal((await edgeGet(d.edge, 'shop.localhost')).body, 'v3-code');
    const releases = (await call(d, 'GET', '/apps/shop/releases')).json.releases;
    assert.equal(releases[0].status, 'failed');
    assert.equal(releases.find((r: { current: boolean }) => r.current).name, 'v8');
  });

  await t.test('rollback brings back code and config without a rebuild', async () => {
    const rolled = await call(d, 'POST', '/apps/shop/rollback', { version: 1 });
    assert.equal(rolled.status, 200, JSON.stringify(rolled.json));
    assert.equal(rolled.json.release.description, 'Rollback to v1');
    const env = JSON.parse((await edgeGet(d.edge, 'shop.localhost', '/env')).body);
    assert.deepEqual([env.version, env.greeting], ['v1', null]);
    assert.deepEqual((await call(d, 'GET', '/apps/shop/config')).json.config, {});
  });

  await t.test('scale starts more instances; config values stay hidden unless revealed', async () => {
    assert.deepEqual((await call(d, 'PUT', '/apps/shop/formation', { web: 2 })).json, { formation: { web: 2 }, memory: {} });
    const ps = (await call(d, 'GET', '/apps/shop/ps')).json.instances;
    assert.equal(ps.filter((i: { state: string }) => i.state === 'ready').length, 2);
    await call(d, 'PATCH', '/apps/shop/config', { set: { SECRET_KEY: 's3cr3t-value' } });
    const hidden = (await call(d, 'GET', '/apps/shop/config')).json;
    assert.deepEqual(hidden.config, { SECRET_KEY: null });
    assert.deepEqual(hidden.vars.find((v: { key: string }) => v.key === 'SECRET_KEY'), { key: 'SECRET_KEY', source: 'config', value: null, overriddenBy: null });
    assert.doesNotMatch(JSON.stringify(hidden), /s3cr3t-value/);
    const revealed = (await call(d, 'GET', '/apps/shop/config?reveal=1')).json;
    assert.deepEqual(revealed.config, { SECRET_KEY: 's3cr3t-value' });
    assert.equal(revealed.vars.find((v: { key: string }) => v.key === 'SECRET_KEY').value, 's3cr3t-value');
    assert.doesNotMatch(d.berth.output, /s3cr3t-value/);
  });

  await t.test('the daemon restarts on the same state and brings the app back at its release and scale', async () => {
    await d.berth.stop('SIGTERM');
    d = await startDaemon(state, 2);
    await eventually('shop serves again', async () => (await edgeGet(d.edge, 'shop.localhost')).body === 'v1', 30_000);
    const ps = (await call(d, 'GET', '/apps/shop/ps')).json.instances;
    assert.equal(ps.length, 2);
  });

  await t.test('a Flask app under gunicorn deploys beside it', async () => {
    assert.equal((await call(d, 'POST', '/apps', { name: 'notes' })).status, 201);
    const flask = join(root, 'flask');
    await cp(join(EXAMPLES, 'flask-notes'), flask, { recursive: true });
    const { last, lines } = await deploy(d, 'notes', flask);
    assert.equal(last.result, 'ok', lines.join('\n'));
    assert.equal((await edgeGet(d.edge, 'notes.localhost', '/health')).status, 200);
    assert.match((await edgeGet(d.edge, 'notes.localhost', '/static/style.css')).body, /font-family/);
    assert.equal((await edgeGet(d.edge, 'shop.localhost')).body, 'v1');
  });

  await t.test('destroy needs confirmation, then the app is gone', async () => {
    assert.equal((await call(d, 'DELETE', '/apps/notes')).status, 400);
    assert.equal((await call(d, 'DELETE', '/apps/notes?confirm=notes')).status, 200);
    assert.equal((await edgeGet(d.edge, 'notes.localhost')).status, 404);
    assert.deepEqual((await call(d, 'GET', '/apps')).json.apps.map((a: { name: string }) => a.name), ['shop']);
  });
});
