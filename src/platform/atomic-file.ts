import { closeSync, fchownSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/**
 * Replace `path` with `content` so that a reader (or a restart after a crash)
 * sees either the old file or the whole new one, never a truncated one: write
 * a temp file beside it with the final mode, fsync it, rename it over the
 * target, then fsync the folder so the rename itself survives a power cut.
 * `owner`, when given, is set on the temp file's descriptor before the rename.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array, mode: number, owner?: { readonly uid: number; readonly gid: number }): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx': never follow or reuse something already at the temp path.
  const fd = openSync(temp, 'wx', mode);
  try {
    try {
      // writeSync may write less than asked; loop until all of it is out.
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
      // Given through the descriptor, before the file has its name: no path is followed, and no reader ever sees it with another owner.
      if (owner !== undefined) fchownSync(fd, owner.uid, owner.gid);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // Already renamed or never created; the original error is what matters.
    }
    throw err;
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
