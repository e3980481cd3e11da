// Apps written like the public samples, deployed unchanged through the real
// CLI to a real `berth server --sandbox required` (root): Heroku's Django
// getting-started project on the PostgreSQL add-on with TLS required
// (release: migrate, collectstatic at build, static files from the edge,
// data that survives a redeploy), Flask's tutorial factory, and a Node app
// whose Vite build names its assets with hashes. One daemon for the file;
// each app is deployed once (Django twice: the redeploy is the point).
//
// The Django sample's management command (add_greeting NOTE) runs as a
// one-off command (`berth run`), whose row the web process then shows.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandboxes } from '../../src/sandbox/index.ts';
import { berth, testEnv } from '../cli/remote/run-berth.ts';
import { startDaemon, type Daemon } from '../helpers/daemon.ts';
import { VITE_ASSET, writeDjangoSample, writeFlaskFactorySample, writeViteSample } from '../helpers/sample-apps.ts';

if (process.getuid?.() !== 0) throw new Error('these tests run berth server as root with --sandbox required: run them as root');

let root: string;
let daemon: Daemon;
let env: Record<string, string>;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-samples-'));
  await chmod(root, 0o711);
  daemon = await startDaemon(join(root, 'state'), 1, ['--sandbox', 'required']);
  env = await testEnv({ after: (fn) => void cleanups.push(async () => fn()) }, { url: daemon.api, token: daemon.token });
});

after(async () => {
  // The daemon first, then what it made for sandboxes (the helper's own
  // purge runs before this hook, while the daemon still runs).
  await daemon?.berth.kill();
  await Sandboxes.purge(join(root, 'state'));
  for (const cleanup of cleanups) await cleanup();
  await rm(root, { recursive: true, force: true });
});

/** `berth ARGS…` against the daemon; fails the test unless it exits 0. */
async function cli(...argv: string[]): Promise<string> {
  const run = await berth(argv, { env });
  assert.equal(run.code, 0, `berth ${argv.join(' ')} → ${run.code}\n${run.out}${run.err}`);
  return run.out + run.err;
}

/** A GET to the edge for an app's host: status, headers, body. */
function get(app: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(daemon.edge);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { host: `${app}.localhost` }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const execFileAsync = promisify(execFile);
const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

const IMMUTABLE = 'public, max-age=31536000, immutable';

test("Heroku's Django getting-started app on PostgreSQL with sslmode=require: migrated by its release command, static files collected and served by the edge, its data kept across a redeploy, a row written by berth run", { timeout: 600_000 }, async () => {
  const dir = join(root, 'django');
  await writeDjangoSample(dir);
  await cli('apps', 'create', 'django');
  assert.match(await cli('addons', 'create', 'postgres', '--app', 'django'), /DATABASE_URL/);

  const first = await cli('deploy', dir, '--app', 'django');
  assert.match(first, /Django project \(gettingstarted\.settings\): the Procfile has no web, so web runs gettingstarted\.wsgi:application \(WSGI_APPLICATION in gettingstarted\/settings\.py\)/);
  assert.match(first, /running python manage\.py collectstatic --noinput/);
  assert.match(first, /static files collected into staticfiles\/, served by the edge/);
  assert.match(first, /running the release command: python manage\.py migrate --noinput/);
  assert.match(first, /Applying hello\.0001_initial\.\.\. OK/, 'migrated on PostgreSQL, in the release phase (DYNO=release.1)');

  // The page links its stylesheet by the manifest's hashed name: collectstatic ran into the release.
  const page = await get('django', '/');
  assert.equal(page.status, 200, page.body);
  const css = /href="(\/static\/hello\/style\.[0-9a-f]{12}\.css)"/.exec(page.body)?.[1];
  assert.ok(css, page.body);
  const sheet = await get('django', css);
  assert.equal(sheet.status, 200);
  assert.equal(sheet.body, 'h1 { color: #6762a6; }\n');
  assert.equal(sheet.headers['cache-control'], IMMUTABLE, 'a hashed name is cached for a year');
  assert.equal((await get('django', '/static/admin/css/base.css')).status, 200, "the admin's files too");

  // The web process's connection is encrypted, through the sandbox's service address, with the CA root in reach.
  const ssl = await get('django', '/ssl/');
  assert.equal(ssl.status, 200, ssl.body);
  assert.deepEqual({ ...JSON.parse(ssl.body), version: undefined }, { vendor: 'postgresql', ssl: true, version: undefined, rootcert: true });

  assert.match((await get('django', '/db/?note=first')).body, /<li>greeting 1: first<\/li><\/ul>/);

  // A second deploy (a changed page): migrations already applied, the row still there.
  const index = join(dir, 'hello', 'templates', 'index.html');
  await writeFile(index, (await readFile(index, 'utf8')).replace('Getting Started', 'Getting Started again'));
  const second = await cli('deploy', dir, '--app', 'django');
  assert.match(second, /No migrations to apply/);
  assert.match((await get('django', '/')).body, /Getting Started again/);
  assert.match((await get('django', '/db/?note=second')).body, /<li>greeting 1: first<\/li><li>greeting 2: second<\/li><\/ul>/);

  // A one-off command in the release's environment (DATABASE_URL with TLS required, as the web process has it) writes a row the web process shows.
  // (The CLI as its own process: a run writes its bytes to the CLI's stdout as they come, unescaped, past the in-process helper's capture.)
  const run = await execFileAsync(process.execPath, [MAIN, 'run', '--app', 'django', '--', 'python', 'manage.py', 'add_greeting', 'from a run'], { env: { ...process.env, BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token, NO_COLOR: '1' }, timeout: 120_000 });
  assert.match(run.stdout, /added greeting 3: from a run/);
  assert.match((await get('django', '/db/?note=fourth')).body, /<li>greeting 3: from a run<\/li><li>greeting 4: fourth<\/li><\/ul>/);
});

test("Flask's tutorial factory (flaskr/__init__.py: create_app) serves its page", { timeout: 300_000 }, async () => {
  const dir = join(root, 'flaskr');
  await writeFlaskFactorySample(dir);
  await cli('apps', 'create', 'flaskr');
  assert.match(await cli('deploy', dir, '--app', 'flaskr'), /python app: web/);
  const res = await get('flaskr', '/hello');
  assert.equal(res.status, 200);
  assert.equal(res.body, 'Hello, World!');
});

test("a Node app with Vite's hashed assets: built by npm run build, its page from the app, its assets from the edge with the immutable cache", { timeout: 300_000 }, async () => {
  const dir = join(root, 'vite');
  await writeViteSample(dir);
  await cli('apps', 'create', 'vite');
  assert.match(await cli('deploy', dir, '--app', 'vite'), /running npm run build/);
  const page = await get('vite', '/');
  assert.equal(page.status, 200);
  assert.match(page.body, new RegExp(`src="/assets/${VITE_ASSET}"`));
  const asset = await get('vite', `/assets/${VITE_ASSET}`);
  assert.equal(asset.status, 200);
  assert.equal(asset.body, 'console.log("hello from vite");\n');
  assert.equal(asset.headers['cache-control'], IMMUTABLE);
});
