import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectApp } from '../../src/build/index.ts';

async function appWith(t: { after(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-detect-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

test('a Procfile wins over everything else', async (t) => {
  const dir = await appWith(t, { Procfile: 'web: node a.js\nworker: node b.js', 'package.json': '{"scripts":{"start":"node x.js"}}', 'index.html': '' });
  const plan = await detectApp(dir);
  assert.equal(plan.kind, 'processes');
  assert.ok(plan.kind === 'processes' && plan.runtime === 'procfile' && plan.processes.length === 2);
});

test('package.json runs its start script; npm ci only with dependencies and a lockfile', async (t) => {
  const bare = await detectApp(await appWith(t, { 'package.json': '{"scripts":{"start":"node server.js"}}' }));
  assert.deepEqual(bare, { kind: 'processes', runtime: 'node', processes: [{ name: 'web', command: 'node server.js' }], install: [] });
  const locked = await detectApp(await appWith(t, { 'package.json': '{"scripts":{"start":"node s.js"},"dependencies":{"x":"1"}}', 'package-lock.json': '{}' }));
  assert.ok(locked.kind === 'processes');
  assert.deepEqual(locked.install, [['npm', 'ci', '--no-audit', '--no-fund']]);
  const unlocked = await detectApp(await appWith(t, { 'package.json': '{"scripts":{"start":"node s.js"},"dependencies":{"x":"1"}}' }));
  assert.ok(unlocked.kind === 'processes');
  assert.deepEqual(unlocked.install, [['npm', 'install', '--no-audit', '--no-fund']]);
});

test('package.json without a start script falls back to server.js, as npm does', async (t) => {
  const plan = await detectApp(await appWith(t, { 'package.json': '{}', 'server.js': '' }));
  assert.ok(plan.kind === 'processes' && plan.processes[0]!.command === 'node server.js');
  await assert.rejects(detectApp(await appWith(t, { 'package.json': '{}' })), /no "start" script/);
});

test('a WSGI app runs under gunicorn on $PORT', async (t) => {
  const plan = await detectApp(await appWith(t, { 'requirements.txt': 'flask', 'app.py': 'from flask import Flask\napp = Flask(__name__)\n' }));
  assert.ok(plan.kind === 'processes' && plan.runtime === 'python');
  assert.match(plan.processes[0]!.command, /^gunicorn --bind 127\.0\.0\.1:\$PORT .* app:app$/);
  const wsgi = await detectApp(await appWith(t, { 'pyproject.toml': '', 'wsgi.py': 'application = make()\n' }));
  assert.ok(wsgi.kind === 'processes' && wsgi.processes[0]!.command.endsWith('wsgi:application'));
});

test('python files without requirements or without an app object are not guessed at', async (t) => {
  await assert.rejects(detectApp(await appWith(t, { 'app.py': 'app = 1' })), /cannot tell how to run/);
  await assert.rejects(detectApp(await appWith(t, { 'requirements.txt': '', 'app.py': 'print(1)' })), /cannot tell how to run/);
});

test('index.html or public/index.html makes a static site', async (t) => {
  const root = await appWith(t, { 'index.html': '<h1>' });
  assert.deepEqual(await detectApp(root), { kind: 'static', root });
  const pub = await appWith(t, { 'public/index.html': '<h1>' });
  assert.deepEqual(await detectApp(pub), { kind: 'static', root: join(pub, 'public') });
});

test('an unknown folder gets an error that says what was looked for', async (t) => {
  await assert.rejects(detectApp(await appWith(t, { 'README.md': 'hi' })), (err: Error & { code?: string; hint?: string }) => {
    assert.equal(err.code, 'BERTH_E_APP_UNDETECTED');
    assert.match(err.hint ?? '', /Procfile.*package\.json.*requirements\.txt.*index\.html/);
    return true;
  });
  await assert.rejects(detectApp('/nonexistent/berth-app'), /does not exist/);
});

test('an empty Procfile is refused', async (t) => {
  await assert.rejects(detectApp(await appWith(t, { Procfile: '# nothing\n' })), /defines no process types/);
});
