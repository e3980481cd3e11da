import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockHolder, StateLock } from '../../src/platform/index.ts';

test('/proc/locks: the pid holding a POSIX lock on an inode', () => {
  const text = '1: POSIX  ADVISORY  WRITE 1393 fe:00:2148271 1073741824 1073742335\n2: FLOCK  ADVISORY  WRITE 77 fe:00:555 0 EOF\n3: POSIX  ADVISORY  READ 88 08:01:555 128 128\n';
  assert.equal(lockHolder(text, 2148271), 1393);
  assert.equal(lockHolder(text, 555), 88);
  assert.equal(lockHolder(text, 1), null);
  assert.equal(lockHolder('', 1), null);
});

test('one holder at a time: a second acquire names the holder and leaves the folder alone; release lets the next one in', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  const first = StateLock.acquire(state);
  t.after(() => first.release());
  assert.equal(statSync(state).mode & 0o777, 0o700, 'a missing folder is made private');
  assert.equal(statSync(join(state, LOCK_FILE)).mode & 0o777, 0o600);
  assert.throws(() => StateLock.acquire(state), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'BERTH_E_STATE_LOCKED');
    assert.match(err.message, new RegExp(`another berth server \\(pid ${process.pid}\\) is running on `));
    return true;
  });
  first.release();
  first.release();
  const again = StateLock.acquire(state);
  again.release();
});
