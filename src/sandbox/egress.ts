// An app's way out: slirp4netns attached to its namespace, giving it tap0
// (10.0.2.100, a default route, DNS at 10.0.2.3) and relaying its traffic
// through ordinary sockets of the host. It runs as root (it has to open the
// namespace and a tap device in it), in a sandbox and seccomp filter of its
// own, detached from the daemon so apps keep their way out while the
// daemon restarts. Its command line is its tag: a restarted daemon finds it
// in /proc by the namespace file it names.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { BerthError } from '../errors.ts';
import type { NetTools } from './net-tools.ts';

/** What slirp4netns --configure gives every namespace (its defaults for 10.0.2.0/24). */
export const EGRESS_INTERFACE = 'tap0';
export const EGRESS_GATEWAY = '10.0.2.2';
export const EGRESS_NAMESERVER = '10.0.2.3';
/** The tap's MTU: slirp's largest, so the relay copies few, large packets. */
const EGRESS_MTU = 65520;

/** One running slirp4netns of berth's, as /proc shows it. */
export interface EgressProcess {
  readonly pid: number;
  /** Its start time (clock ticks after boot): a pid reused by another process has another. */
  readonly startTime: number;
  readonly netnsPath: string;
  /** The address its outgoing sockets are bound to (null: none given). */
  readonly outboundAddress: string | null;
}

/** slirp4netns's arguments for an app's namespace. */
export function egressArgs(netnsPath: string, outboundAddress: string, readyFd: number): string[] {
  return [
    '--configure',
    `--mtu=${EGRESS_MTU}`,
    // The host's 127.0.0.1 (the API, the dashboard, metrics) is not behind 10.0.2.2.
    '--disable-host-loopback',
    // Its own mount namespace (an empty root), capabilities dropped, and a seccomp filter once it runs.
    '--enable-sandbox',
    '--enable-seccomp',
    // Its connections leave from this address, never from a link's: the host's rules tell them apart by it.
    `--outbound-addr=${outboundAddress}`,
    `--ready-fd=${readyFd}`,
    '--netns-type=path',
    netnsPath,
    EGRESS_INTERFACE,
  ];
}

/** The namespace and outbound address of a slirp4netns command line berth started, or null when it is not one. */
export function parseEgressCommand(argv: readonly string[]): { netnsPath: string; outboundAddress: string | null } | null {
  const [program, ...args] = argv;
  if (program === undefined || basename(program) !== 'slirp4netns' || !args.includes('--netns-type=path')) return null;
  const positional = args.filter((a) => !a.startsWith('-'));
  if (positional.length !== 2 || positional[1] !== EGRESS_INTERFACE || !positional[0]!.startsWith('/')) return null;
  const outbound = args.find((a) => a.startsWith('--outbound-addr='));
  return { netnsPath: positional[0]!, outboundAddress: outbound === undefined ? null : outbound.slice('--outbound-addr='.length) };
}

/** State and start time from the text of /proc/PID/stat (the command name may hold spaces and parentheses). */
export function parseStatTimes(text: string): { state: string; startTime: number } | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // Fields after the name start with the 3rd (state); the start time is the 22nd.
  const fields = text.slice(close + 2).split(' ');
  const startTime = Number(fields[19]);
  return fields[0] && Number.isSafeInteger(startTime) ? { state: fields[0], startTime } : null;
}

async function statOf(pid: number): Promise<{ state: string; startTime: number } | null> {
  try {
    return parseStatTimes(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Whether the process still runs (not gone, not a zombie, not a newer process with its pid). */
export async function isRunning(proc: Pick<EgressProcess, 'pid' | 'startTime'>): Promise<boolean> {
  const stat = await statOf(proc.pid);
  return stat !== null && stat.startTime === proc.startTime && stat.state !== 'Z' && stat.state !== 'X';
}

async function readEgress(pid: number): Promise<EgressProcess | null> {
  try {
    // The name first: one small read rules out nearly every process.
    if ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim() !== 'slirp4netns') return null;
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    // Only root's: an app's process can call itself anything, but not be root.
    if (!/^Uid:\s+0\s/m.test(status)) return null;
    const command = parseEgressCommand((await readFile(`/proc/${pid}/cmdline`)).toString('utf8').split('\0').filter((a) => a !== ''));
    const stat = await statOf(pid);
    if (command === null || stat === null || stat.state === 'Z') return null;
    return { pid, startTime: stat.startTime, ...command };
  } catch {
    return null; // gone while being read
  }
}

/** berth's slirp4netns processes attached to namespace files under `dir` (every one when `dir` is null). */
export async function findEgress(dir: string | null): Promise<EgressProcess[]> {
  const pids = (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(Number);
  const found = await Promise.all(pids.map(readEgress));
  return found.filter((p): p is EgressProcess => p !== null && (dir === null || p.netnsPath.startsWith(`${dir}/`)));
}

const READY_TIMEOUT_MS = 10_000;

export interface StartedEgress {
  readonly process: EgressProcess;
  /** The child, while this daemon is its parent (its exit is seen at once). */
  readonly child: ChildProcess;
}

/**
 * Starts slirp4netns for a namespace and resolves once it has configured
 * tap0. Its output goes to `logPath` (rewritten at each start, so it holds
 * the current process's words only). Detached: its own session, no pipe to
 * the daemon, so it outlives the daemon.
 */
export async function startEgress(tools: NetTools, netnsPath: string, outboundAddress: string, logPath: string): Promise<StartedEgress> {
  // Synchronous from open to the listeners below: nothing the child emits can come first.
  const log = openSync(logPath, 'w', 0o600);
  let child: ChildProcess;
  try {
    const [file, ...args] = tools.argv('slirp4netns', egressArgs(netnsPath, outboundAddress, 3));
    child = spawn(file!, args, { detached: true, stdio: ['ignore', log, log, 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  } finally {
    closeSync(log);
  }
  const ready = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  ready.on('error', () => {});
  const onError = (err: Error) => fail(`could not be started: ${err.message}`);
  const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(signal !== null ? `was killed (${signal})` : `exited with ${String(code)}`);
  let fail: (why: string) => void = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(`did not say it was ready within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
      fail = (why) => {
        clearTimeout(timer);
        reject(new Error(why));
      };
      ready.on('data', (chunk: Buffer) => {
        if (!chunk.includes('1')) return;
        clearTimeout(timer);
        resolve();
      });
      child.once('error', onError);
      child.once('exit', onExit);
    });
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    ready.destroy();
    const words = await readFile(logPath, 'utf8').catch(() => '');
    // Its own words, without its warnings and without the usage text it prints after a bad argument.
    const lines = words.trim().split('\n');
    const usage = lines.findIndex((l) => l.startsWith('Usage:'));
    const last = (usage < 0 ? lines : lines.slice(0, usage)).filter((l) => l !== '' && !l.startsWith('WARNING:')).slice(-3).join(' | ');
    throw new BerthError('BERTH_E_SANDBOX_NETWORK', `slirp4netns for ${netnsPath} ${(err as Error).message}${last === '' ? '' : `: ${last}`}`, { status: 500 });
  } finally {
    child.off('error', onError);
    child.off('exit', onExit);
  }
  ready.destroy();
  child.unref();
  const stat = await statOf(child.pid!);
  if (stat === null) throw new BerthError('BERTH_E_SANDBOX_NETWORK', `slirp4netns for ${netnsPath} ended as soon as it was ready`, { status: 500 });
  return { process: { pid: child.pid!, startTime: stat.startTime, netnsPath, outboundAddress }, child };
}

const STOP_POLL_MS = 20;

async function waitGone(proc: EgressProcess, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (!(await isRunning(proc))) return true;
    await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
  }
  return !(await isRunning(proc));
}

/** Ends a slirp4netns (TERM, then KILL); resolves once it is gone. A pid that is no longer it is left alone. */
export async function stopEgress(proc: EgressProcess): Promise<void> {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    if (!(await isRunning(proc))) return;
    try {
      process.kill(proc.pid, signal);
    } catch {
      return; // gone
    }
    if (await waitGone(proc, signal === 'SIGTERM' ? 2_000 : 5_000)) return;
  }
  throw new BerthError('BERTH_E_SANDBOX_NETWORK', `slirp4netns (pid ${proc.pid}) for ${proc.netnsPath} does not end`, {
    hint: 'A process stuck in the kernel does not die from SIGKILL; see /proc/PID/stack.',
    status: 500,
  });
}
