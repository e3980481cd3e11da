// Real control groups for tests (as root, on whatever the machine has:
// v1 here): a driver under a root name of its own, removed with every
// group in it when the test ends, pass or fail; and children that wait to
// be put into a group before they run what they were started for.

import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rmdir } from 'node:fs/promises';
import { detectCgroups, type CgroupDriver, type CgroupHandle } from '../../src/sandbox/index.ts';
import { parseMountinfo, parseProcCgroup, planV1, planV2 } from '../../src/sandbox/cgroup-files.ts';

export interface RealCgroups {
  readonly driver: CgroupDriver;
  readonly rootName: string;
  /** berth's root directory in each hierarchy the driver uses (v1: one per mounted controller set). */
  readonly rootDirs: readonly string[];
}

/** The directory of `name` (or of the root, for '') in each hierarchy. */
export function groupDirs(cgroups: RealCgroups, name: string): string[] {
  return cgroups.rootDirs.map((dir) => (name === '' ? dir : `${dir}/${name}`));
}

export async function realCgroups(t: TestContext): Promise<RealCgroups> {
  assert.equal(process.geteuid?.(), 0, 'the cgroup tests run as root');
  const rootName = `berth-test/${randomBytes(4).toString('hex')}`;
  const detection = await detectCgroups({ rootName });
  assert.ok(detection.driver !== null, `this machine must offer cgroups for the sandbox: ${detection.reason}`);
  const { driver } = detection;
  const mounts = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const groups = parseProcCgroup(await readFile('/proc/self/cgroup', 'utf8'));
  let owns: string[];
  if (driver.version === 2) {
    const plan = planV2(mounts, groups);
    assert.ok(plan.ok);
    owns = [plan.value.ownDir];
  } else {
    const plan = planV1(mounts, groups);
    assert.ok(plan.ok);
    owns = plan.value.map((h) => h.ownDir);
  }
  const cgroups = { driver, rootName, rootDirs: owns.map((own) => `${own}/${rootName}`) };
  t.after(async () => {
    // Deepest first: every group the test made, whatever it did with them.
    for (const name of (await driver.list('')).reverse()) {
      const group = await driver.open(name);
      await group?.killAll();
      await group?.remove();
    }
    // The root's own folders (left when a create failed half-way, or no group was made).
    for (const own of owns) {
      for (const dir of [`${own}/${rootName}`, `${own}/berth-test`]) await rmdir(dir).catch(() => {});
    }
  });
  return cgroups;
}

export interface GatedChild {
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;
  /** Lets it exec its command (after the test put it into a group). */
  go(): void;
  /** Its whole standard output, once it ended. */
  readonly output: Promise<string>;
  /** Its first line of output (rejects when it ends without one; bounded by the test's timeout). */
  readonly firstLine: Promise<string>;
  /** How it ended: the signal, or the exit code. */
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `argv` behind a gate: a shell that waits for a line on its input,
 * then execs the command, so the test can move it into a group first (as
 * berth's launcher does with bwrap's --block-fd). Killed when the test ends.
 */
export function gated(t: TestContext, argv: readonly string[], options: { uid?: number; gid?: number } = {}): GatedChild {
  const child = spawn('/bin/sh', ['-c', 'read _ && exec "$@"', 'sh', ...argv], { stdio: 'pipe', uid: options.uid, gid: options.gid, cwd: '/' });
  const pid = child.pid;
  assert.ok(pid !== undefined);
  let text = '';
  let lineFound: (line: string) => void = () => {};
  const firstLine = new Promise<string>((resolve, reject) => {
    lineFound = resolve;
    child.stdout.once('close', () => reject(new Error(`the child ended before writing a line (${JSON.stringify(text)})`)));
  });
  firstLine.catch(() => {}); // only an error for a test that waits on it
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    if (text.includes('\n')) lineFound(text.slice(0, text.indexOf('\n')));
  });
  child.stderr.resume();
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const output = new Promise<string>((resolve) => child.stdout.once('close', () => resolve(text)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, pid, go: () => child.stdin.write('\n'), output, firstLine, ended };
}

/** `promise`, or a failure naming `what` after `ms` (a child stuck for good must fail its test, not hang it). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `pid` still runs (a zombie left for a parent that never reaps runs nothing). */
export async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** Starts `argv` in `group` (gated, added, released). */
export async function startIn(t: TestContext, group: CgroupHandle, argv: readonly string[], options: { uid?: number; gid?: number } = {}): Promise<GatedChild> {
  const started = gated(t, argv, options);
  await group.add(started.pid);
  started.go();
  return started;
}
