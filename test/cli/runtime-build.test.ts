// The runtime build (bin/dist.js, bin/berth.js): src/ compiled to dist/ runs
// the same program, its edge workers included, and a build that no longer
// matches the sources is never run. Everything happens in a copy of the
// repository's sources in a temp folder, so the real src/ and dist/ are
// never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/berth-process.ts';

/** Runs `node ARGS` in `cwd` to its end. */
function node(cwd: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A copy of what the build needs: bin/, src/, the tsconfigs, package.json ("type": "module"), node_modules linked. */
async function copyOfRepo(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'berth-runtime-build-'));
  for (const name of ['bin', 'src']) await cp(join(REPO, name), join(root, name), { recursive: true });
  for (const name of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) await cp(join(REPO, name), join(root, name));
  await symlink(join(REPO, 'node_modules'), join(root, 'node_modules'));
  return root;
}

/** Marks the built program so that `--version` tells whether dist/ ran. */
async function markDist(root: string, version = '0.1.0'): Promise<void> {
  const file = join(root, 'dist', 'cli', 'index.js');
  const text = await readFile(file, 'utf8');
  const marked = text.replace(`.version('${version}')`, ".version('0.1.0-dist')");
  assert.notEqual(marked, text, 'the version string is where this test expects it');
  await writeFile(file, marked);
}

test('berth runs from its build when current, workers included, and from the sources otherwise', async (t) => {
  const root = await copyOfRepo();
  t.after(() => rm(root, { recursive: true, force: true }));
  const berth = join(root, 'bin', 'berth.js');

  const build = node(root, [join(root, 'bin', 'dist.js')]);
  assert.equal(build.status, 0, build.stderr);
  assert.equal(node(root, [join(root, 'dist', 'cli', 'main.js'), '--version']).stdout, '0.1.0\n');

  await t.test('--help is the same from dist/ and from the sources', () => {
    for (const args of [['--help'], ['up', '--help'], ['server', '--help'], ['apps', '--help']]) {
      const fromDist = node(root, [join(root, 'dist', 'cli', 'main.js'), ...args]);
      const fromSources = node(root, [join(root, 'src', 'cli', 'main.ts'), ...args]);
      assert.equal(fromDist.status, 0, fromDist.stderr);
      assert.equal(fromDist.stdout, fromSources.stdout);
      if (args[0] === '--help') for (const command of ['up', 'file-server', 'reverse-proxy', 'server', 'login', 'apps', 'deploy', 'logs']) assert.match(fromDist.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  await markDist(root);

  await t.test('bin/berth.js runs a current build', () => {
    const run = node(root, [berth, '--version']);
    assert.equal(run.stdout, '0.1.0-dist\n');
    assert.equal(run.stderr, '');
  });

  await t.test('file-server from the build serves with two engines (the worker thread runs the built worker)', async () => {
    const site = join(root, 'site');
    await mkdir(site);
    await writeFile(join(site, 'hello.txt'), 'hello from dist\n');
    const child = spawn(process.execPath, [berth, 'file-server', '--root', site, '--listen', '127.0.0.1:0', '--workers', '2'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit');
    let output = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString('utf8');
          const match = /serving \S+ on (http:\/\/\S+)/.exec(output);
          if (match) resolve(match[1]!);
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        void exited.then(() => reject(new Error(`berth exited:\n${output}`)));
      });
      // Several connections: the kernel spreads them over both engines, and all must answer.
      for (let i = 0; i < 8; i++) {
        const answer = await fetch(`${url}/hello.txt`, { headers: { connection: 'close' } });
        assert.equal(answer.status, 200);
        assert.equal(await answer.text(), 'hello from dist\n');
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    assert.doesNotMatch(output, /older than src|worker failed|exited/);
  });

  await t.test('a build that no longer matches the sources is not run', async () => {
    // A source added since the build.
    const added = join(root, 'src', 'added-later.ts');
    await writeFile(added, 'export const later = 1;\n');
    let run = node(root, [berth, '--version']);
    assert.equal(run.stdout, '0.1.0\n');
    assert.match(run.stderr, /dist\/ is older than src\/, running the sources/);

    // Gone again: the tree matches the build's record exactly, so the build runs.
    await unlink(added);
    assert.equal(node(root, [berth, '--version']).stdout, '0.1.0-dist\n');

    // A source edited since the build (as after `git pull` without a rebuild).
    const index = join(root, 'src', 'cli', 'index.ts');
    await writeFile(index, (await readFile(index, 'utf8')).replace(".version('0.1.0')", ".version('0.1.0-edited')"));
    run = node(root, [berth, '--version']);
    assert.equal(run.stdout, '0.1.0-edited\n');
    assert.match(run.stderr, /running the sources/);

    // Rebuilt: the build runs again, with the edit.
    assert.equal(node(root, [join(root, 'bin', 'dist.js'), '--quiet']).status, 0);
    await markDist(root, '0.1.0-edited');
    run = node(root, [berth, '--version']);
    assert.equal(run.stdout, '0.1.0-dist\n');
    assert.equal(run.stderr, '');

    // A build without its record (an interrupted build) is not run either.
    await unlink(join(root, 'dist', '.sources'));
    assert.equal(node(root, [berth, '--version']).stdout, '0.1.0-edited\n');
  });
});
