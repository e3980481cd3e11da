// bin/berth.js on a Node.js older than berth needs: one line saying so and
// exit status 1, whatever the command, instead of a stack trace from the
// first module an older Node cannot load. It runs the machine's own older
// Node (Debian's /usr/bin/node, v20 here); the test fails, rather than
// skips, where that is not an older Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../helpers/berth-process.ts';

const OLD_NODE = '/usr/bin/node';

test('berth on Node.js older than 24 prints one line naming the version it needs and exits 1', () => {
  const version = spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' });
  assert.equal(version.status, 0, `this test runs ${OLD_NODE}: ${version.error?.message ?? version.stderr}`);
  assert.ok(Number(version.stdout.trim().replace(/^v/, '').split('.')[0]) < 24, `${OLD_NODE} is ${version.stdout.trim()}, not older than 24`);

  for (const args of [['--version'], ['apps', 'list'], ['server', '--help'], []]) {
    const run = spawnSync(OLD_NODE, [join(REPO, 'bin', 'berth.js'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 1, `berth ${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `berth needs Node.js 24 or newer (this is Node.js ${version.stdout.trim()})\n`);
  }
});

test('berth on Node.js 24 runs', () => {
  const run = spawnSync(process.execPath, [join(REPO, 'bin', 'berth.js'), '--version'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, '0.1.0\n');
});
