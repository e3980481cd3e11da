import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdMachineLock } from '../../src/platform/machine-lock.ts';

test('one holder at a time: a second one waits, and gives up after its timeout, while the first holds the lock', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'sub', 'app-users.lock');
  const first = await holdMachineLock(path, 5_000);
  assert.ok(first !== null, 'flock(1) is installed here');
  assert.equal((await stat(join(dir, 'sub'))).mode & 0o777, 0o700, 'nobody else can open the lock file to hold it');
  await assert.rejects(holdMachineLock(path, 1_000), /cannot take the lock .*app-users\.lock within 1 s/);
  await first.release();
  await first.release();
  const second = await holdMachineLock(path, 5_000);
  assert.ok(second !== null);
  await second.release();
});

test('a holder that dies (berth killed) lets the next one in', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'app-users.lock');
  const holder = spawn(process.execPath, ['--input-type=module', '-e', `
    const { holdMachineLock } = await import(${JSON.stringify(new URL('../../src/platform/machine-lock.ts', import.meta.url).href)});
    await holdMachineLock(${JSON.stringify(path)}, 5000);
    console.log('holding');
    setInterval(() => {}, 1000);
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => holder.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('holding') && resolve());
    holder.once('exit', () => reject(new Error('the holder ended before it held the lock')));
  });
  await assert.rejects(holdMachineLock(path, 1_000), /cannot take the lock/, 'held while the holder lives');
  holder.kill('SIGKILL');
  const next = await holdMachineLock(path, 10_000);
  assert.ok(next !== null);
  await next.release();
});
