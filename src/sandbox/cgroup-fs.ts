// The few file operations the cgroup driver does, behind one small
// interface: the real one over node:fs, and whatever a test puts in its
// place (a fake v2 tree that behaves like the kernel's, see
// test/sandbox/cgroups-v2-fake.test.ts).

import { constants } from 'node:fs';
import { access, chmod, lstat, mkdir, open, readdir, readFile, rmdir } from 'node:fs/promises';

export interface CgroupFs {
  /** A control file's text. */
  read(path: string): Promise<string>;
  /** One write(2) of `value` to an existing control file: never created, never through a link (the kernel takes a value per write). */
  write(path: string, value: string): Promise<void>;
  /** Makes a group's directory: 'made', or 'existed' when a directory was there (anything else there is an error). */
  mkdir(path: string): Promise<'made' | 'existed'>;
  /** Removes an empty group's directory (the kernel says EBUSY while it holds processes or groups). */
  rmdir(path: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  /** The names of the directories (groups) in a group; [] when it is gone. */
  subdirs(path: string): Promise<string[]>;
  /** Whether a file or directory is there. */
  exists(path: string): Promise<boolean>;
  /** Whether this process may make groups in a directory (root, on a file system mounted read-write). */
  writable(path: string): Promise<boolean>;
}

export const nodeCgroupFs: CgroupFs = {
  read: (path) => readFile(path, { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW }),
  async write(path, value) {
    // O_WRONLY and nothing else: some control files (cgroup.kill, cgroup.event_control) refuse reading opens.
    const handle = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      const { bytesWritten } = await handle.write(value);
      if (bytesWritten !== Buffer.byteLength(value)) throw Object.assign(new Error(`short write to ${path}`), { code: 'EIO' });
    } finally {
      await handle.close();
    }
  },
  async mkdir(path) {
    try {
      await mkdir(path);
      return 'made';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!(await lstat(path)).isDirectory()) throw Object.assign(new Error(`${path} is not a directory`), { code: 'ENOTDIR' });
      return 'existed';
    }
  },
  rmdir: (path) => rmdir(path),
  chmod: (path, mode) => chmod(path, mode),
  async subdirs(path) {
    try {
      return (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  },
  async exists(path) {
    try {
      await lstat(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  },
  async writable(path) {
    try {
      await access(path, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
};
