import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectApp, discoverBuildEnvironment } from '../../src/build/index.ts';
import { parsePythonRequest, pickRequestedPython, versionMatches } from '../../src/build/python-version.ts';

const code = (pattern: RegExp) => (err: Error & { code?: string }) => err.code === 'BERTH_E_PYTHON_VERSION' && pattern.test(err.message);

test('.python-version and runtime.txt are read as pyenv and Heroku write them; anything else is refused naming the file', () => {
  assert.deepEqual(parsePythonRequest('.python-version', '3.11\n'), { file: '.python-version', version: '3.11' });
  assert.deepEqual(parsePythonRequest('.python-version', '# pinned\n3.11.4\n3.10.0\n'), { file: '.python-version', version: '3.11.4' });
  assert.deepEqual(parsePythonRequest('runtime.txt', 'python-3.12.1\n'), { file: 'runtime.txt', version: '3.12.1' });
  assert.throws(() => parsePythonRequest('.python-version', 'pypy3.9-7.3.11'), code(/\.python-version asks for "pypy3\.9-7\.3\.11"/));
  assert.throws(() => parsePythonRequest('runtime.txt', 'python-2.7.18'), code(/runtime\.txt asks for "python-2\.7\.18"/));
  assert.throws(() => parsePythonRequest('.python-version', ''), code(/asks for ""/));
});

test('a request meets an installed version by its parts: 3.11 any patch, 3.11.2 exactly', () => {
  assert.ok(versionMatches('3.11.2', '3.11'));
  assert.ok(versionMatches('3.11.2', '3.11.2'));
  assert.ok(!versionMatches('3.11.2', '3.11.4'));
  assert.ok(!versionMatches('3.1.2', '3.11'));
  const pythons = [{ binary: '/usr/bin/python3', version: '3.11.2' }, { binary: '/usr/bin/python3.12', version: '3.12.1' }, { binary: '/odd', version: null }];
  assert.equal(pickRequestedPython(pythons, { file: '.python-version', version: '3.12' }).binary, '/usr/bin/python3.12');
  assert.throws(() => pickRequestedPython(pythons, { file: 'runtime.txt', version: '3.9' }), code(/runtime\.txt asks for Python 3\.9; this machine has 3\.11\.2, 3\.12\.1/));
});

test("detection picks the machine's Python the app asks for, and refuses one it does not have before anything is built", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-pyver-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'requirements.txt'), '');
  await writeFile(join(dir, 'Procfile'), 'web: python -m gunicorn app:app\n');
  const env = await discoverBuildEnvironment(process.env.PATH);
  const system = env.pythons.find((p) => p.binary === '/usr/bin/python3');
  assert.ok(system?.version, 'the system Python and its version are found');
  const minor = system.version.split('.').slice(0, 2).join('.');
  await writeFile(join(dir, '.python-version'), `${minor}\n`);
  const plan = await detectApp(dir, env);
  assert.equal(plan.kind, 'processes');
  if (plan.kind === 'processes') assert.ok(plan.notes.some((note) => note.startsWith(`Python ${minor}`) && note.includes('.python-version asks for')), plan.notes.join('\n'));
  await writeFile(join(dir, '.python-version'), '3.4\n');
  await assert.rejects(detectApp(dir, env), code(/\.python-version asks for Python 3\.4; this machine has .*3\.\d+\.\d+/));
});
