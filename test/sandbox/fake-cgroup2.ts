// A cgroup v2 tree in a temp folder, with the kernel's rules the driver
// depends on: a new group gets its control files (those of the controllers
// its parent passes down), subtree_control refuses a group holding
// processes (no internal processes, the root excepted), a pid lives in
// one group, cgroup.kill kills (real processes, with SIGKILL), rmdir
// refuses a group holding processes or groups. cgroup.procs lists only
// pids that still run (a test's real children, or this process).
// This machine's cgroup2 mount has no controllers, so the v2 driver is
// tested against this, plus the pure functions.

import { mkdir, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { CgroupFs } from '../../src/sandbox/index.ts';
import { nodeCgroupFs } from '../../src/sandbox/cgroup-fs.ts';

export interface FakeFeatures {
  /** memory.swap.max (swap accounting). */
  readonly swap: boolean;
  /** memory.peak (Linux 5.19+). */
  readonly peak: boolean;
  /** cgroup.kill (Linux 5.14+). */
  readonly kill: boolean;
}

const ALL_FEATURES: FakeFeatures = { swap: true, peak: true, kill: true };
const ROOT_CONTROLLERS = 'cpuset cpu io memory hugetlb pids rdma misc';

function errnoError(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export class FakeCgroup2 implements CgroupFs {
  readonly root: string;
  readonly features: FakeFeatures;
  /** Every write that took, as [path relative to the root, value]. */
  readonly writes: [string, string][] = [];
  /** Writes to refuse: path relative to the root → errno code. */
  readonly refuse = new Map<string, string>();

  constructor(root: string, features: Partial<FakeFeatures> = {}) {
    this.root = root;
    this.features = { ...ALL_FEATURES, ...features };
  }

  /** The root group, and the groups of `path` ("/system.slice/berth.service") with `controllers` passed down to it. */
  async layOut(path: string, procs: readonly number[], controllers = ROOT_CONTROLLERS): Promise<void> {
    await this.#populate(this.root, ROOT_CONTROLLERS, true);
    let dir = this.root;
    for (const segment of path.split('/').filter((s) => s !== '')) {
      await writeFile(`${dir}/cgroup.subtree_control`, controllers);
      dir = `${dir}/${segment}`;
      await mkdir(dir);
      await this.#populate(dir, controllers, false);
    }
    await writeFile(`${dir}/cgroup.procs`, procs.map((p) => `${p}\n`).join(''));
  }

  async #populate(dir: string, controllers: string, isRoot: boolean): Promise<void> {
    const on = controllers.split(' ');
    const files: Record<string, string> = {
      'cgroup.procs': '',
      'cgroup.controllers': controllers,
      'cgroup.subtree_control': '',
      'cgroup.events': 'populated 0\nfrozen 0\n',
    };
    if (!isRoot) {
      files['cgroup.freeze'] = '0';
      if (this.features.kill) files['cgroup.kill'] = '';
      if (on.includes('memory')) {
        Object.assign(files, { 'memory.max': 'max\n', 'memory.current': '0\n', 'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n' });
        if (this.features.swap) files['memory.swap.max'] = 'max\n';
        if (this.features.peak) files['memory.peak'] = '0\n';
      }
      if (on.includes('cpu')) Object.assign(files, { 'cpu.max': 'max 100000\n', 'cpu.weight': '100\n', 'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n' });
      if (on.includes('pids')) Object.assign(files, { 'pids.max': 'max\n', 'pids.current': '0\n' });
    }
    for (const [name, text] of Object.entries(files)) await writeFile(`${dir}/${name}`, text);
  }

  #isRoot(dir: string): boolean {
    return dir === this.root;
  }

  async #procs(dir: string): Promise<number[]> {
    return (await readFile(`${dir}/cgroup.procs`, 'utf8')).split('\n').filter((l) => l !== '').map(Number).filter(running);
  }

  async #setProcs(dir: string, pids: readonly number[]): Promise<void> {
    await writeFile(`${dir}/cgroup.procs`, pids.map((p) => `${p}\n`).join(''));
  }

  async #groups(dir: string): Promise<string[]> {
    const found = [dir];
    for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) found.push(...(await this.#groups(`${dir}/${e.name}`)));
    return found;
  }

  /** The pids in the group at `path` relative to the root. */
  procsOf(path: string): Promise<number[]> {
    return this.#procs(`${this.root}${path}`);
  }

  read(path: string): Promise<string> {
    if (path.endsWith('/cgroup.procs')) return this.#procs(dirname(path)).then((pids) => pids.map((p) => `${p}\n`).join(''));
    return nodeCgroupFs.read(path);
  }

  async write(path: string, value: string): Promise<void> {
    if (!existsSync(path)) throw errnoError('ENOENT', path);
    const refused = this.refuse.get(relative(this.root, path));
    if (refused !== undefined) throw errnoError(refused, path);
    const dir = dirname(path);
    const file = path.slice(dir.length + 1);
    if (file === 'cgroup.subtree_control') {
      const enabled = new Set((await readFile(path, 'utf8')).split(' ').filter((s) => s !== ''));
      const available = (await readFile(`${dir}/cgroup.controllers`, 'utf8')).split(' ');
      for (const token of value.split(' ')) {
        const name = token.slice(1);
        if (!available.includes(name)) throw errnoError('ENOENT', path);
        if (token.startsWith('+')) enabled.add(name);
        else enabled.delete(name);
      }
      if (!this.#isRoot(dir) && (await this.#procs(dir)).length > 0) throw errnoError('EBUSY', path);
      await writeFile(path, [...enabled].join(' '));
    } else if (file === 'cgroup.procs') {
      const pid = Number(value);
      if (!running(pid)) throw errnoError('ESRCH', path);
      if (!this.#isRoot(dir) && (await readFile(`${dir}/cgroup.subtree_control`, 'utf8')) !== '') throw errnoError('EBUSY', path);
      for (const group of await this.#groups(this.root)) await this.#setProcs(group, (await this.#procs(group)).filter((p) => p !== pid));
      await this.#setProcs(dir, [...(await this.#procs(dir)), pid]);
    } else if (file === 'cgroup.kill') {
      for (const group of await this.#groups(dir)) for (const pid of await this.#procs(group)) process.kill(pid, 'SIGKILL');
    } else if (file === 'cgroup.freeze') {
      await writeFile(path, value);
      await writeFile(`${dir}/cgroup.events`, `populated ${(await this.#procs(dir)).length > 0 ? 1 : 0}\nfrozen ${value}\n`);
    } else {
      await writeFile(path, value);
    }
    this.writes.push([relative(this.root, path), value]);
  }

  async mkdir(path: string): Promise<'made' | 'existed'> {
    if (existsSync(path)) {
      if (!(await stat(path)).isDirectory()) throw errnoError('ENOTDIR', path);
      return 'existed';
    }
    if (!existsSync(dirname(path))) throw errnoError('ENOENT', path);
    await mkdir(path);
    await this.#populate(path, await readFile(`${dirname(path)}/cgroup.subtree_control`, 'utf8'), false);
    return 'made';
  }

  async rmdir(path: string): Promise<void> {
    if (!existsSync(path)) throw errnoError('ENOENT', path);
    if ((await this.#procs(path)).length > 0 || (await this.subdirs(path)).length > 0) throw errnoError('EBUSY', path);
    // The kernel's control files go with the group.
    for (const name of await readdir(path)) await rm(`${path}/${name}`);
    await rmdir(path);
  }

  chmod = nodeCgroupFs.chmod;
  subdirs = nodeCgroupFs.subdirs;
  exists = nodeCgroupFs.exists;
  writable = nodeCgroupFs.writable;
}

export const V2_MOUNTINFO = '26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
