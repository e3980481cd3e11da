import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseNode, choosePython, commandToArgv, detectApp } from '../../src/build/index.ts';
import { BerthError } from '../../src/errors.ts';

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
  assert.deepEqual(bare, { kind: 'processes', runtime: 'node', processes: [{ name: 'web', command: 'node server.js' }], install: [], path: [], notes: [] });
  const locked = await detectApp(await appWith(t, { 'package.json': '{"scripts":{"start":"node s.js"},"dependencies":{"x":"1"}}', 'package-lock.json': '{}' }));
  assert.ok(locked.kind === 'processes');
  assert.deepEqual(locked.install.map((step) => ('argv' in step ? step.argv : 'command' in step ? step.command : 'collectstatic')), [['npm', 'ci', '--no-audit', '--no-fund']]);
  assert.ok('argv' in locked.install[0]! && locked.install[0].cache?.output === 'node_modules', 'a locked install is cached');
  const unlocked = await detectApp(await appWith(t, { 'package.json': '{"scripts":{"start":"node s.js"},"dependencies":{"x":"1"}}' }));
  assert.ok(unlocked.kind === 'processes');
  assert.deepEqual(unlocked.install, [{ argv: ['npm', 'install', '--no-audit', '--no-fund'] }], 'nothing pins an unlocked install, so it is not cached');
});

test('package.json without a start script falls back to server.js, as npm does', async (t) => {
  const plan = await detectApp(await appWith(t, { 'package.json': '{}', 'server.js': '' }));
  assert.ok(plan.kind === 'processes' && plan.processes[0]!.command === 'node server.js');
  await assert.rejects(detectApp(await appWith(t, { 'package.json': '{}' })), /no "start" script/);
});

test('a WSGI app runs under gunicorn on $PORT', async (t) => {
  const plan = await detectApp(await appWith(t, { 'requirements.txt': 'flask', 'app.py': 'from flask import Flask\napp = Flask(__name__)\n' }));
  assert.ok(plan.kind === 'processes' && plan.runtime === 'python');
  assert.match(plan.processes[0]!.command, /^python -m gunicorn --bind 127\.0\.0\.1:\$PORT .* app:app$/);
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

const NODES = [
  { version: '24.21.0', binDir: '/opt/node24/bin' },
  { version: '20.20.2', binDir: '/usr/bin' },
];
const ENV = { nodes: NODES, pythons: [{ binary: '/pyenv/python3', servers: [] }, { binary: '/usr/bin/python3', servers: ['gunicorn' as const] }], tools: { pnpm: false, yarn: false } };

test('engines.node picks the newest installed Node that fits; none fitting fails the build; no range keeps PATH', async (t) => {
  assert.equal(chooseNode('>=20 <21', NODES)?.binDir, '/usr/bin');
  assert.equal(chooseNode('>=20', NODES)?.version, '24.21.0');
  assert.equal(chooseNode('24.x', NODES)?.version, '24.21.0');
  assert.equal(chooseNode(undefined, NODES), null);
  assert.equal(chooseNode('>=18', []), null, 'nothing to choose from: PATH decides');
  assert.throws(() => chooseNode('^18', NODES), (err: BerthError) => err.code === 'BERTH_E_INSTALL' && /asks for Node \^18; this server has 24\.21\.0, 20\.20\.2/.test(err.message));
  assert.throws(() => chooseNode('banana', NODES), (err: BerthError) => err.code === 'BERTH_E_APP_CONFIG');
  const plan = await detectApp(await appWith(t, { 'package.json': '{"engines":{"node":"20.x"},"scripts":{"start":"node s.js"}}' }), ENV);
  assert.ok(plan.kind === 'processes');
  assert.deepEqual(plan.path, ['/usr/bin'], "the chosen Node's folder goes first on PATH");
  assert.deepEqual(plan.notes, ['Node 20.20.2 (engines.node "20.x")']);
});

test('lockfiles pick the package manager when it is installed, else npm with a note; npm run build when defined', async (t) => {
  const files = { 'package.json': '{"scripts":{"start":"node s.js","build":"tsc"},"dependencies":{"x":"1"}}', 'pnpm-lock.yaml': 'lockfileVersion: 9' };
  const withPnpm = await detectApp(await appWith(t, files), { ...ENV, tools: { pnpm: true, yarn: false } });
  assert.ok(withPnpm.kind === 'processes');
  assert.deepEqual(withPnpm.install.map((s) => ('argv' in s ? s.argv.join(' ') : 'command' in s ? s.command : 'collectstatic')), ['pnpm install --frozen-lockfile', 'npm run build']);
  const without = await detectApp(await appWith(t, files), ENV);
  assert.ok(without.kind === 'processes');
  assert.deepEqual(without.install.map((s) => ('argv' in s ? s.argv.join(' ') : 'command' in s ? s.command : 'collectstatic')), ['npm install --no-audit --no-fund', 'npm run build']);
  assert.ok(without.notes.includes('pnpm-lock.yaml found but pnpm is not installed on the server: installing with npm from package.json'), without.notes.join('\n'));
  const yarnFiles = { 'package.json': files['package.json'], 'yarn.lock': '# yarn' };
  const yarn = await detectApp(await appWith(t, yarnFiles), { ...ENV, tools: { pnpm: false, yarn: true } });
  assert.ok(yarn.kind === 'processes' && 'argv' in yarn.install[0]! && yarn.install[0].argv[0] === 'yarn');
  const withoutYarn = await detectApp(await appWith(t, yarnFiles), ENV);
  assert.ok(withoutYarn.kind === 'processes');
  assert.equal(withoutYarn.install.map((s) => ('argv' in s ? s.argv.join(' ') : 'command' in s ? s.command : 'collectstatic'))[0], 'npm install --no-audit --no-fund');
  assert.ok(withoutYarn.notes.includes('yarn.lock found but yarn is not installed on the server: installing with npm from package.json'), withoutYarn.notes.join('\n'));
});

test('the build cache key changes with the lockfile, the manifest and the Node version, and only then', async (t) => {
  const key = async (files: Record<string, string>, env = ENV) => {
    const plan = await detectApp(await appWith(t, files), env);
    assert.ok(plan.kind === 'processes' && 'argv' in plan.install[0]!);
    return plan.install[0].cache!.key;
  };
  const base = { 'package.json': '{"scripts":{"start":"node s.js"},"dependencies":{"x":"1"}}', 'package-lock.json': '{"v":1}', 'server.js': '' };
  const first = await key(base);
  assert.equal(await key({ ...base, 'server.js': 'changed app code' }), first, 'app code does not touch the key');
  assert.notEqual(await key({ ...base, 'package-lock.json': '{"v":2}' }), first);
  assert.notEqual(await key({ ...base, 'package.json': base['package.json'].replace('"1"', '"2"') }), first);
  assert.notEqual(await key({ ...base, 'package.json': base['package.json'].replace('{', '{"engines":{"node":"20.x"},') }), await key({ ...base, 'package.json': base['package.json'].replace('{', '{"engines":{"node":"24.x"},') }));
});

test('Python: a virtualenv per release, pip into it, the venv first on PATH; ASGI apps run under uvicorn', async (t) => {
  const wsgi = await detectApp(await appWith(t, { 'requirements.txt': 'flask', 'app.py': 'app = Flask(__name__)\n' }), ENV);
  assert.ok(wsgi.kind === 'processes');
  assert.deepEqual(wsgi.install.map((s) => ('argv' in s ? s.argv.slice(0, 6).join(' ') : '')), ['/pyenv/python3 -m venv --without-pip .venv', '/pyenv/python3 -m pip --python .venv/bin/python install']);
  assert.deepEqual(wsgi.path, ['.venv/bin']);
  const asgi = await detectApp(await appWith(t, { 'requirements.txt': '', 'main.py': 'from fastapi import FastAPI\napp = FastAPI()\n' }), ENV);
  assert.ok(asgi.kind === 'processes');
  assert.equal(asgi.processes[0]!.command, 'python -m uvicorn --host 127.0.0.1 --port $PORT --no-access-log main:app');
  const raw = await detectApp(await appWith(t, { 'pyproject.toml': '', 'asgi.py': 'async def app(scope, receive, send):\n    pass\n' }), ENV);
  assert.ok(raw.kind === 'processes' && raw.processes[0]!.command.endsWith('asgi:app') && raw.processes[0]!.command.includes('uvicorn'));
  assert.ok('argv' in raw.install[1]! && raw.install[1].argv.at(-1) === '.', 'pyproject.toml: pip install .');
  const forced = await detectApp(await appWith(t, { 'requirements.txt': '', 'app.py': 'app = make()\n', 'berth.toml': '[python]\nserver = "uvicorn"\n' }), ENV);
  assert.ok(forced.kind === 'processes' && forced.processes[0]!.command.includes('uvicorn'));
});

test('system_site_packages: the virtualenv sees system packages and is made from the Python that has the server', async (t) => {
  const plan = await detectApp(await appWith(t, { 'requirements.txt': 'flask', 'app.py': 'app = Flask(__name__)\n', 'berth.toml': '[python]\nsystem_site_packages = true\n' }), ENV);
  assert.ok(plan.kind === 'processes' && 'argv' in plan.install[0]!);
  assert.deepEqual(plan.install[0].argv, ['/usr/bin/python3', '-m', 'venv', '--without-pip', '--system-site-packages', '.venv']);
  assert.equal(choosePython(ENV.pythons, 'uvicorn', true), '/pyenv/python3', 'no Python has it: PATH first');
  assert.equal(choosePython(ENV.pythons, 'gunicorn', false), '/pyenv/python3', 'without system packages the server comes from requirements');
  assert.equal(choosePython([], 'gunicorn', true), 'python3');
});

test('a Procfile build: entry runs at build time, after the language steps, and is not a service', async (t) => {
  const plan = await detectApp(await appWith(t, { Procfile: 'web: ./serve\nbuild: make all PREFIX=$HOME\n' }), ENV);
  assert.ok(plan.kind === 'processes');
  assert.deepEqual(plan.install, [{ command: 'make all PREFIX=$HOME' }]);
  const both = await detectApp(await appWith(t, { Procfile: 'web: node s.js\nbuild: node gen.js\n', 'package.json': '{"dependencies":{"x":"1"}}' }), ENV);
  assert.ok(both.kind === 'processes');
  assert.deepEqual(both.install.map((s) => ('argv' in s ? s.argv[0] : 'command' in s ? s.command : 'collectstatic')), ['npm', 'node gen.js']);
});

test("an app factory is found (Flask's tutorial: create_app in a package or a module) and called by the server", async (t) => {
  const { mkdtemp, mkdir, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'berth-factory-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'requirements.txt'), 'flask\n');
  await mkdir(join(dir, 'flaskr'));
  await writeFile(join(dir, 'flaskr', '__init__.py'), 'from flask import Flask\n\ndef create_app(test_config=None):\n    app = Flask(__name__)\n    return app\n');
  await mkdir(join(dir, 'tests'));
  await writeFile(join(dir, 'tests', '__init__.py'), 'def create_app():\n    pass\n');
  const plan = await detectApp(dir, ENV);
  assert.equal(plan.kind, 'processes');
  if (plan.kind !== 'processes') return;
  const web = plan.processes.find((p) => p.name === 'web')!;
  assert.match(web.command, /^python -m gunicorn .* 'flaskr:create_app\(\)'$/);
  assert.deepEqual(commandToArgv(web.command, { PORT: '8000' }).at(-1), 'flaskr:create_app()');
  // An ASGI factory goes to uvicorn with --factory.
  await writeFile(join(dir, 'main.py'), 'from fastapi import FastAPI\n\ndef create_app():\n    return FastAPI()\n');
  const asgi = await detectApp(dir, ENV);
  if (asgi.kind === 'processes') assert.match(asgi.processes.find((p) => p.name === 'web')!.command, /uvicorn .* --factory main:create_app$/);
});

const DJANGO_MANAGE = "import os, sys\n\ndef main():\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n    from django.core.management import execute_from_command_line\n    execute_from_command_line(sys.argv)\n";

test('a Django project (manage.py naming its settings) runs its WSGI application under gunicorn and collects static files last', async (t) => {
  const files = {
    'requirements.txt': 'django\n',
    'manage.py': DJANGO_MANAGE,
    'mysite/__init__.py': '',
    'mysite/settings.py': "WSGI_APPLICATION = 'mysite.wsgi.application'\n",
    'mysite/wsgi.py': 'application = get_wsgi_application()\n',
    // Detection must not take these for the app: Django's module wins.
    'app.py': 'app = object()\n',
  };
  const plan = await detectApp(await appWith(t, { ...files, 'berth.toml': '[static]\n"/static" = "staticfiles"\n' }), ENV);
  assert.ok(plan.kind === 'processes');
  assert.equal(plan.runtime, 'python');
  assert.deepEqual(plan.processes, [{ name: 'web', command: 'python -m gunicorn --bind 127.0.0.1:$PORT --graceful-timeout 10 --access-logfile - mysite.wsgi:application' }]);
  assert.deepEqual(plan.install.at(-1), { collectstatic: { servedDirs: ['staticfiles'] } });
  assert.ok(plan.notes.includes('Django project (mysite.settings): web runs mysite.wsgi:application (WSGI_APPLICATION in mysite/settings.py)'), plan.notes.join('\n'));

  // A Procfile web wins; collectstatic still runs, after the Procfile's build:.
  const procfile = await detectApp(await appWith(t, { ...files, Procfile: 'web: gunicorn mysite.wsgi\nrelease: python manage.py migrate\nbuild: ./assets.sh\n' }), ENV);
  assert.ok(procfile.kind === 'processes');
  assert.deepEqual(procfile.processes.map((p) => p.command), ['gunicorn mysite.wsgi', 'python manage.py migrate', './assets.sh']);
  assert.deepEqual(procfile.install.slice(-2), [{ command: './assets.sh' }, { collectstatic: { servedDirs: [] } }]);

  // A Procfile without web (only the release phase): the settings' application serves.
  const releaseOnly = await detectApp(await appWith(t, { ...files, Procfile: 'release: python manage.py migrate\n' }), ENV);
  assert.ok(releaseOnly.kind === 'processes');
  assert.deepEqual(releaseOnly.processes.map((p) => p.name), ['web', 'release']);
  assert.ok(releaseOnly.processes[0]!.command.endsWith(' mysite.wsgi:application'));
  assert.match(releaseOnly.notes.join('\n'), /the Procfile has no web, so web runs mysite\.wsgi:application/);

  // package.json beside it (asset tooling, no start script): Django still serves, npm still builds.
  const assets = await detectApp(await appWith(t, { ...files, 'package.json': '{"scripts":{"build":"vite build"}}' }), ENV);
  assert.ok(assets.kind === 'processes');
  assert.ok(assets.processes[0]!.command.endsWith(' mysite.wsgi:application'));
  assert.deepEqual(assets.install.map((s) => ('argv' in s ? s.argv.slice(0, 3).join(' ') : 'command' in s ? s.command : 'collectstatic')), ['npm run build', '/pyenv/python3 -m venv', '/pyenv/python3 -m pip', 'collectstatic']);
});

test('a manage.py that names no settings is not Django: the other Python rules apply, and nothing is collected', async (t) => {
  const plan = await detectApp(await appWith(t, { 'requirements.txt': '', 'manage.py': 'print("hello")\n', 'app.py': 'app = make()\n' }), ENV);
  assert.ok(plan.kind === 'processes' && plan.processes[0]!.command.endsWith(' app:app'));
  assert.ok(!plan.install.some((s) => 'collectstatic' in s));
  // Django without a wsgi.py anywhere berth looks: the generic rules, then the usual refusal.
  await assert.rejects(detectApp(await appWith(t, { 'requirements.txt': '', 'manage.py': DJANGO_MANAGE, 'mysite/settings.py': '' }), ENV), /cannot tell how to run/);
});
