import { execFile } from 'node:child_process';
import { BerthError } from '../errors.ts';
import { DISK_PARTS, usageOf, type DiskPart, type DiskUsage } from './policy.ts';

// Measuring an app's folders with GNU du: it walks descriptor-relative
// (fts), never follows a link (-P) nor leaves the filesystem (-x), so the
// app's own links and mounts in its folders count as themselves. What is
// counted is what the disk holds (allocated blocks), not apparent sizes:
// a sparse file of a terabyte costs what it occupies.

/** The folders of one app, by part; a missing folder holds nothing. */
export type DiskFolders = Readonly<Record<DiskPart, string | null>>;

const DU_TIMEOUT_MS = 120_000;

/** Parses du -s -B1 -0 output: "BYTES\tPATH\0" per folder. Pure. */
export function parseDu(output: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const record of output.split('\0')) {
    const tab = record.indexOf('\t');
    if (tab <= 0) continue;
    const bytes = Number(record.slice(0, tab).trim());
    if (Number.isSafeInteger(bytes) && bytes >= 0) sizes.set(record.slice(tab + 1), bytes);
  }
  return sizes;
}

/** What the app's folders hold now. */
export async function measureDisk(folders: DiskFolders, now: () => number = Date.now): Promise<DiskUsage> {
  const paths = [...new Set(DISK_PARTS.map((part) => folders[part]).filter((path): path is string => path !== null))];
  const sizes = paths.length === 0 ? new Map<string, number>() : await du(paths);
  const parts = Object.fromEntries(DISK_PARTS.map((part) => [part, folders[part] === null ? 0 : (sizes.get(folders[part]!) ?? 0)])) as Record<DiskPart, number>;
  return usageOf(parts, now());
}

function du(paths: readonly string[]): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    execFile('du', ['-s', '-B1', '-x', '-P', '-0', '--', ...paths], { timeout: DU_TIMEOUT_MS, maxBuffer: 1024 * 1024, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const sizes = parseDu(stdout);
      // du exits 1 when a folder vanished (a build pruned) or one entry
      // could not be read: what it did measure still counts.
      if (err !== null && (sizes.size === 0 || (err as NodeJS.ErrnoException & { killed?: boolean }).killed)) {
        reject(new BerthError('BERTH_E_DISK', `cannot measure ${paths.join(', ')}: ${stderr.trim().split('\n').at(-1) || err.message}`, { status: 500, hint: 'Check that du (coreutils) runs, and that the state folder is readable by root.' }));
        return;
      }
      resolve(sizes);
    });
  });
}
