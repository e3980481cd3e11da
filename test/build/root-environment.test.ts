// What a base image offers a build, asked of the image: the base chosen
// from the folder's names, the image's Env as variables, and the answers
// of its node and python3 read into the BuildEnvironment detectApp takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseBaseLanguage, DEFAULT_IMAGE_PATH, detectApp, discoverRootEnvironment, imageVariables, type RootProbe } from '../../src/build/index.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('the base is chosen from the names alone: Python markers win over package.json; neither chooses none', () => {
  assert.equal(chooseBaseLanguage(['package.json', 'server.js']), 'node');
  for (const marker of ['requirements.txt', 'pyproject.toml', 'Pipfile']) assert.equal(chooseBaseLanguage([marker, 'app.py']), 'python', marker);
  assert.equal(chooseBaseLanguage(['package.json', 'requirements.txt', 'manage.py']), 'python', 'a Django project with asset tooling');
  assert.equal(chooseBaseLanguage(['Procfile', 'server']), null);
  assert.equal(chooseBaseLanguage(['index.html']), null);
  assert.equal(chooseBaseLanguage([]), null);
});

test("an image's Env as variables, with Docker's PATH when it sets none", () => {
  assert.deepEqual(imageVariables(['PATH=/usr/local/bin:/usr/bin', 'LANG=C.UTF-8', 'EMPTY=', 'A=b=c', 'junk', '=x']), { PATH: '/usr/local/bin:/usr/bin', LANG: 'C.UTF-8', EMPTY: '', A: 'b=c' });
  assert.deepEqual(imageVariables([]), { PATH: DEFAULT_IMAGE_PATH });
});

/** Answers as an image would: by program name. */
function probeOf(answers: Record<string, { code: number; lines: string[] }>): RootProbe & { asked: string[][] } {
  const asked: string[][] = [];
  const probe = async (argv: readonly string[]) => {
    asked.push([...argv]);
    return answers[argv[0]!] ?? { code: 127, lines: [`setpriv: failed to execute ${argv[0]}: No such file or directory`] };
  };
  return Object.assign(probe, { asked });
}

test("the image's node and python3 say what they are; their other output is not read", async () => {
  const probe = probeOf({
    node: { code: 0, lines: ['(node:1) ExperimentalWarning: whatever', 'berth-probe:24.11.1', 'berth-probe:/usr/local/bin/node', 'berth-probe:yarn'] },
    python3: { code: 0, lines: ['berth-probe:3.12.7', 'berth-probe:gunicorn', 'berth-probe:/usr/local/bin/python3'] },
  });
  assert.deepEqual(await discoverRootEnvironment(probe), {
    nodes: [{ version: '24.11.1', binDir: '/usr/local/bin' }],
    pythons: [{ binary: '/usr/local/bin/python3', version: '3.12.7', servers: ['gunicorn'] }],
    tools: { pnpm: false, yarn: true },
  });
  assert.deepEqual(probe.asked.map((argv) => argv[0]), ['node', 'python3'], 'run by name: the image\'s PATH finds them');
});

test('an image without them, or with answers that are not versions and paths, offers nothing', async () => {
  assert.deepEqual(await discoverRootEnvironment(probeOf({})), { nodes: [], pythons: [], tools: { pnpm: false, yarn: false } });
  const odd = probeOf({
    node: { code: 0, lines: ['berth-probe:not a version', 'berth-probe:/usr/bin/node', 'berth-probe:pnpm yarn'] },
    python3: { code: 1, lines: ['berth-probe:3.11.2', 'berth-probe:', 'berth-probe:/usr/bin/python3'] },
  });
  assert.deepEqual(await discoverRootEnvironment(odd), { nodes: [], pythons: [], tools: { pnpm: false, yarn: false } }, 'a Node that is not one finds no package manager either');
});

test("detectApp over the image's environment: the image's Python makes the virtualenv, engines.node picks the image's Node", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-root-env-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'requirements.txt'), 'flask\n');
  await writeFile(join(dir, 'app.py'), 'app = object()\n');
  const env = { nodes: [{ version: '22.3.0', binDir: '/usr/local/bin' }], pythons: [{ binary: '/usr/local/bin/python3', version: '3.12.7', servers: [] }], tools: { pnpm: false, yarn: false } };
  const python = await detectApp(dir, env);
  assert.equal(python.kind, 'processes');
  if (python.kind !== 'processes') return;
  assert.deepEqual(python.install[0], { argv: ['/usr/local/bin/python3', '-m', 'venv', '--without-pip', '.venv'] });
  await rm(join(dir, 'requirements.txt'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ engines: { node: '>=22' }, scripts: { start: 'node server.js' } }));
  const node = await detectApp(dir, env);
  assert.equal(node.kind === 'processes' && node.path[0], '/usr/local/bin');
});
