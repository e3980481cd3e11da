import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOutputFiles, InstanceOutput, removeOutputFiles } from '../../src/runner/instance-output.ts';
import { eventually } from '../helpers/berth-process.ts';

test('an instance writes into its files whoever reads them: lines are followed, a detach leaves the offsets, the next reader carries on there without a line twice', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-output-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { paths, fds } = createOutputFiles(dir, 'web.1-abcd');
  assert.equal((await stat(paths.out)).mode & 0o777, 0o600);
  const child = spawn(process.execPath, ['-e', "process.stdout.write('one\\ntw'); setTimeout(() => { process.stdout.write('o\\nthree\\n'); console.error('oops'); }, 100)"], { stdio: ['ignore', fds[0], fds[1]] });
  for (const fd of fds) closeSync(fd);
  const lines: string[] = [];
  const output = await InstanceOutput.follow(paths, { out: 0, err: 0 }, (stream, line) => lines.push(`${stream}:${line}`));
  await new Promise((resolve) => child.once('exit', resolve));
  await eventually('every line', async () => lines.length === 4);
  assert.deepEqual(lines, ['out:one', 'out:two', 'out:three', 'err:oops']);
  await output.detach();
  const offsets = output.offsets;
  assert.deepEqual(offsets, { out: 'one\ntwo\nthree\n'.length, err: 'oops\n'.length });

  // Written while nobody reads (the daemon restarting) …
  await writeFile(paths.out, 'four\nfive\n', { flag: 'a' });
  // … is read by the next reader from the recorded offsets, and only that.
  const next: string[] = [];
  const resumed = await InstanceOutput.follow(paths, offsets, (stream, line) => next.push(`${stream}:${line}`));
  await eventually('the lines written meanwhile', async () => next.length === 2);
  await resumed.finish();
  assert.deepEqual(next, ['out:four', 'out:five']);
  await removeOutputFiles(paths);
  await assert.rejects(stat(paths.out));
});

test('output files are never made over something already there, nor read through a link', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-output-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'secret'), 'root only\n');
  await symlink(join(dir, 'secret'), join(dir, 'web.1-x.out'));
  assert.throws(() => createOutputFiles(dir, 'web.1-x'), /EEXIST/);
  await assert.rejects(InstanceOutput.follow({ out: join(dir, 'web.1-x.out'), err: join(dir, 'web.1-x.out') }, { out: 0, err: 0 }, () => {}), /ELOOP/);
});

test('what was read is given back to the disk (holes), the file keeps its length and the reader its place', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-output-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { paths, fds } = createOutputFiles(dir, 'worker.1-ffff');
  const line = `${'x'.repeat(1023)}\n`;
  const chunk = Buffer.from(line.repeat(1024)); // 1 MiB
  for (let i = 0; i < 3; i++) writeSync(fds[0], chunk);
  let count = 0;
  const output = await InstanceOutput.follow(paths, { out: 0, err: 0 }, () => count++);
  await eventually('3 MiB of lines read', async () => count === 3 * 1024);
  await eventually('the blocks behind the reader are freed', async () => (await stat(paths.out)).blocks * 512 < 1024 * 1024);
  assert.equal((await stat(paths.out)).size, 3 * 1024 * 1024, 'the length stays: the writer appends where it was');
  writeSync(fds[0], 'after\n');
  await eventually('a line after the hole', async () => count === 3 * 1024 + 1);
  for (const fd of fds) closeSync(fd);
  await output.finish();
});
