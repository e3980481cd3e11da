import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

// A lock every berth process on the machine takes by the same path, for
// work that must not interleave between two daemons (creating app users:
// groupadd and useradd check that an id is free before they lock
// /etc/group and /etc/passwd, so two of them at once can both take it).
// Node has no flock(2); flock(1) from util-linux holds the lock for us:
// it takes it, then runs `cat`, which echoes a line back once it runs and
// ends when its input does. A holder that dies (berth killed) closes that
// input, so the lock is never left behind.

export interface HeldLock {
  /** Lets the next holder in; idempotent. */
  release(): Promise<void>;
}

const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Waits (at most `timeoutMs`) for the lock at `path`; null when flock(1) is
 * not installed (nothing to serialize with); throws when it is not had in
 * time. Whoever can open the file can hold the lock (a read-only descriptor
 * is enough for flock), so its folder is made 0700: root's alone.
 */
export async function holdMachineLock(path: string, timeoutMs: number): Promise<HeldLock | null> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const child = spawn('flock', ['--exclusive', '--timeout', String(Math.max(1, Math.ceil(timeoutMs / 1000))), path, 'cat'], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH } });
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  });
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-500)));
  let missing = false;
  child.once('error', (err: NodeJS.ErrnoException) => (missing = err.code === 'ENOENT'));
  const held = new Promise<boolean>((resolve) => {
    let echoed = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      echoed += chunk;
      if (echoed.includes('held\n')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  child.stdin.write('held\n');
  if (!(await held)) {
    if (missing) return null;
    throw new Error(`cannot take the lock ${path} within ${Math.round(timeoutMs / 1000)} s${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  }
  child.stdout.resume();
  let released: Promise<void> | null = null;
  return {
    release() {
      released ??= (async () => {
        child.stdin.end();
        await exited;
      })();
      return released;
    },
  };
}
