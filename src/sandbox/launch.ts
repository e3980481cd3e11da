import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../errors.ts';
import { letGoOf, noOutput, type AdoptionHandle, type ExitInfo, type LaunchedProcess, type LaunchSpec, type RunAs } from '../runner/launcher.ts';
import { readProcessNow, watchExit, type ProcessIdentity } from '../runner/process-identity.ts';
import { launchArgv, loaderVariables, withoutLoaderVariables, type ImageRoot, type SandboxMount, type SandboxTools } from './spec.ts';
import type { CgroupDriver, CgroupHandle, ResourceLimits, ResourceUsage } from './types.ts';

// Starting one program in a sandbox. Root runs bwrap (through nsenter into
// the app's network namespace); bwrap makes the namespaces and mounts, then
// waits on a descriptor; meanwhile the launcher puts bwrap's processes into
// a cgroup made for this sandbox, so everything the program ever starts is
// counted and limited from its first instruction; then it lets bwrap go on.

/** What a sandbox needs besides the program: the app's part (the same for all its processes) and this process's limits. */
export interface SandboxLaunch {
  readonly app: string;
  readonly hostname: string;
  readonly user: RunAs;
  readonly mounts: readonly SandboxMount[];
  readonly netnsPath: string | null;
  /** Where its listeners are reached from the host (the app's address; 127.0.0.1 when it has no network: nothing can reach it). */
  readonly host: string;
  readonly limits: ResourceLimits;
  /** An image's root as `/` (a build inside its base image); absent: the host's system, as the mounts show it. */
  readonly root?: ImageRoot | undefined;
}

export interface LaunchDeps {
  readonly tools: SandboxTools;
  readonly cgroups: CgroupDriver;
  /** The seccomp program for bwrap, or null for none. */
  readonly seccomp: Buffer | null;
  /** How long bwrap may take to report its pids before the start counts as failed. */
  readonly setupTimeoutMs?: number;
}

const INFO_FD = 3;
const BLOCK_FD = 4;
const SECCOMP_FD = 5;
const SETUP_TIMEOUT_MS = 10_000;
const INFO_MAX_BYTES = 64 * 1024;

/** A cgroup name segment for a label ("web.1", "cron.nightly") plus a nonce: two starts never share a group. */
export function groupName(app: string, label: string, nonce: string): string {
  const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return `${app}/${safe}-${nonce}`;
}

/** bwrap exits with 128+N when its program died of signal N: said as the signal. */
export function exitOf(code: number | null, signal: NodeJS.Signals | null): ExitInfo {
  if (signal !== null || code === null || code <= 128 || code > 128 + 64) return { code, signal };
  const name = Object.entries(osConstants.signals).find(([, number]) => number === code - 128)?.[0];
  return name === undefined ? { code, signal } : { code: null, signal: name as NodeJS.Signals };
}

function readInfo(stream: Readable, timeoutMs: number): Promise<{ childPid: number }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => done(new Error(`the sandbox did not start within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | null, value?: { childPid: number }) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onEnd);
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.length > INFO_MAX_BYTES) return done(new Error('the sandbox wrote too much on its info descriptor'));
      const end = text.indexOf('}');
      if (end === -1) return;
      try {
        const info = JSON.parse(text.slice(0, end + 1)) as { 'child-pid'?: unknown };
        const childPid = info['child-pid'];
        if (typeof childPid !== 'number' || !Number.isInteger(childPid) || childPid <= 1) throw new Error('no child pid');
        done(null, { childPid });
      } catch (err) {
        done(new Error(`the sandbox reported its pids unreadably: ${(err as Error).message}`));
      }
    };
    const onEnd = () => done(new Error('the sandbox ended before it started its program'));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onEnd);
  });
}

/**
 * Starts `spec`'s program in a sandbox made from `sandbox`, with a cgroup of
 * its own. The cgroup is made while bwrap starts (both take milliseconds, and
 * nothing of the app runs before bwrap reads its block descriptor); once both
 * are there, bwrap and the sandbox's init are moved into it together (the
 * first move into a v1 hierarchy waits for an RCU grace period; the others
 * ride on it), and only then does the program start.
 */
export async function launchSandboxed(spec: LaunchSpec, sandbox: SandboxLaunch, deps: LaunchDeps): Promise<LaunchedProcess> {
  if (spec.user === null) throw new BerthError('BERTH_E_SANDBOX', 'a sandboxed process needs a Unix user of its own', { status: 500 });
  const argv = launchArgv(
    // The loader's variables reach the program only, set again after setpriv (never nsenter, bwrap or setpriv, which run as root).
    { hostname: sandbox.hostname, user: spec.user, cwd: spec.cwd, argv: spec.argv, mounts: sandbox.mounts, netnsPath: sandbox.netnsPath, root: sandbox.root, restoreEnv: sandbox.root === undefined ? loaderVariables(spec.env) : {} },
    deps.tools,
    { info: INFO_FD, block: BLOCK_FD, seccomp: deps.seccomp === null ? null : SECCOMP_FD },
  );
  const creating = deps.cgroups.create(groupName(sandbox.app, spec.label, randomBytes(4).toString('hex')), sandbox.limits);
  // Awaited below on every path; until then a failure must not count as unhandled.
  creating.catch(() => {});
  const [file, ...args] = argv;
  let child: ChildProcess;
  try {
    child = spawn(file!, args, {
      cwd: '/',
      env: withoutLoaderVariables(spec.env),
      // Its own process group: a terminal's Ctrl-C reaches berth alone.
      detached: true,
      stdio: [spec.stdin === true ? 'pipe' : 'ignore', spec.output?.[0] ?? 'pipe', spec.output?.[1] ?? 'pipe', 'pipe', 'pipe', deps.seccomp === null ? 'ignore' : 'pipe'],
    });
  } catch (err) {
    await creating.then((group) => group.remove(), () => {}).catch(() => {});
    throw err;
  }
  let startError: string | null = null;
  const exitedRaw = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => {
      startError = error.message;
      resolve({ code: 127, signal: null });
    });
    child.once('exit', (code, signal) => resolve(exitOf(code, signal)));
  });
  const stdio = child.stdio as unknown as Array<Readable | Writable | null>;
  const info = stdio[INFO_FD] as Readable;
  const block = stdio[BLOCK_FD] as Writable;
  // bwrap closes these once read or written; a reset on our side of the socket pair is expected, never an error.
  for (const extra of stdio.slice(INFO_FD)) extra?.on('error', () => {});
  if (deps.seccomp !== null) (stdio[SECCOMP_FD] as Writable).end(deps.seccomp);
  const reading = readInfo(info, deps.setupTimeoutMs ?? SETUP_TIMEOUT_MS);
  reading.catch(() => {});
  const ended = exitedRaw.then(() => {
    throw new Error(startError ?? 'the sandbox ended before it started its program');
  });
  ended.catch(() => {});
  const own = new Set<number>();
  let group: CgroupHandle | null = null;
  let cgroupError: unknown = null;
  try {
    const [made, reported] = await Promise.all([
      creating.catch((err: unknown) => {
        cgroupError = err;
        throw err;
      }),
      Promise.race([reading, ended]),
    ]);
    group = made;
    // bwrap itself (here, the process berth started) and the sandbox's
    // init: root's processes, never signalled as the app's.
    own.add(child.pid!);
    own.add(reported.childPid);
    await Promise.all([group.add(child.pid!), group.add(reported.childPid)]);
    block.end('go');
  } catch (err) {
    // bwrap gone by itself (a bad mount, say): its own words are in its output; a failed move of its pid says less.
    const endedAlone = child.exitCode !== null || child.signalCode !== null;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
    await exitedRaw;
    const made = group ?? (await creating.catch(() => null));
    await made?.killAll().catch(() => []);
    await made?.remove().catch(() => {});
    if (cgroupError !== null) throw cgroupError;
    if (startError !== null) throw new BerthError('BERTH_E_SANDBOX', `cannot start the sandbox: ${startError}`, { status: 500, hint: 'Is bubblewrap installed (apt install bubblewrap)?' });
    const why = endedAlone ? 'the sandbox ended before it started its program' : (err as Error).message;
    throw new BerthError('BERTH_E_SANDBOX', `cannot start ${spec.label} in its sandbox: ${why}`, { status: 500 });
  } finally {
    info.destroy();
  }
  // A program that exits without reading its input closes the pipe: EPIPE on our side is expected.
  child.stdin?.on('error', () => {});
  const launched = sandboxedProcess(child.pid!, child.stdin ?? null, child.stdout ?? noOutput(), child.stderr ?? noOutput(), exitedRaw, () => startError, group!, own, sandbox);
  return { ...launched, letGo: () => letGoOf(child) };
}

/**
 * A sandbox a previous daemon started: bwrap (`handle.pid`, verified by the
 * caller) watched through /proc, its control group opened by name. Null
 * when the group is gone or bwrap is not in it (what is left in the group
 * is ended): then it is not the sandbox the record names, and the caller
 * ends the rest.
 */
export async function adoptSandboxed(handle: AdoptionHandle, identity: ProcessIdentity, sandbox: SandboxLaunch, cgroups: CgroupDriver): Promise<LaunchedProcess | null> {
  if (handle.cgroup === null || !handle.cgroup.startsWith(`${sandbox.app}/`)) return null;
  const group = await cgroups.open(handle.cgroup).catch(() => null);
  if (group === null) return null;
  const members = await group.pids().catch(() => [] as number[]);
  if (!members.includes(handle.pid)) {
    // The group the record names (root's record, berth's own group) no longer holds the sandbox: whatever is left in it goes now.
    await group.killAll().catch(() => []);
    await group.remove().catch(() => {});
    return null;
  }
  // bwrap and the sandbox's init are root's: never signalled as the app's.
  const own = new Set<number>();
  for (const pid of members) if ((await readProcessNow(pid))?.uid === 0) own.add(pid);
  const watch = watchExit(identity);
  const exitedRaw = watch.ended.then((): ExitInfo => ({ code: null, signal: null, unknown: true }));
  const adopted = sandboxedProcess(handle.pid, null, noOutput(), noOutput(), exitedRaw, () => null, group, own, sandbox);
  return { ...adopted, signal: (signal) => (adopted.signal(signal), watch.nudge()), release: () => (watch.cancel(), adopted.release()), letGo: () => watch.cancel() };
}

function sandboxedProcess(
  pid: number,
  stdin: Writable | null,
  stdout: Readable,
  stderr: Readable,
  exitedRaw: Promise<ExitInfo>,
  startError: () => string | null,
  group: CgroupHandle,
  own: ReadonlySet<number>,
  sandbox: SandboxLaunch,
): LaunchedProcess {
  let released: Promise<void> | null = null;
  let last: ResourceUsage | null = null;
  const exited = exitedRaw.then(async (info) => {
    // What it used, read before its group goes: an out-of-memory kill is told from a crash here.
    last = await group.usage().catch(() => last);
    if (last !== null && last.oomKills > 0 && sandbox.limits.memoryBytes !== null) {
      return { ...info, outOfMemory: { peakBytes: last.memoryPeakBytes, limitBytes: sandbox.limits.memoryBytes } };
    }
    return info;
  });
  return {
    pid,
    stdin,
    stdout,
    stderr,
    exited,
    startError,
    signal(signal) {
      if (signal === 'SIGKILL') {
        void group.killAll().catch(() => {});
        return;
      }
      // Every process of the sandbox but bwrap's own: as a process group
      // would be signalled (gunicorn's master and workers alike), whatever
      // sessions the app made inside.
      void group.pids().then(
        (pids) => {
          for (const target of pids) {
            if (own.has(target)) continue;
            try {
              process.kill(target, signal);
            } catch {
              // ended meanwhile
            }
          }
        },
        () => {},
      );
    },
    release() {
      released ??= (async () => {
        const left = await group.killAll();
        if (left.length > 0) throw new BerthError('BERTH_E_SANDBOX', `processes ${left.join(', ')} of a sandbox could not be ended`, { status: 500 });
        last = (await group.usage().catch(() => last)) ?? last;
        await group.remove();
      })();
      return released;
    },
    async usage() {
      if (released !== null) return last;
      return group.usage().catch(() => last);
    },
    limits: sandbox.limits,
    host: sandbox.host,
    ownNetwork: sandbox.netnsPath !== null,
    adoption: { pid, cgroup: group.name },
    letGo: () => {},
  };
}
