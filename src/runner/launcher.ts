import { spawn, type ChildProcess } from 'node:child_process';
import { Readable, type Writable } from 'node:stream';
import { watchExit, type ProcessIdentity } from './process-identity.ts';
import type { ResourceLimits, ResourceUsage } from '../sandbox/index.ts';

// How an app's process is started: plainly (its own process group, as the
// app's user when berth runs as root) or in a sandbox (src/sandbox/). The
// runner supervises what it gets the same way either way: output lines, an
// exit, signals to everything the process started, what it uses.

/** A Unix identity a process is started as. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Its status cannot be known: a previous daemon started it, so this one is not its parent. */
  readonly unknown?: boolean;
  /** Set when the kernel killed it for going over its memory limit (a sandbox knows; a plain process cannot tell). */
  readonly outOfMemory?: { readonly peakBytes: number | null; readonly limitBytes: number };
}

export interface LaunchSpec {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Run as this Unix user (berth runs as root); null: as berth. */
  readonly user: RunAs | null;
  /** What the process is, in the app's words: "web.1", "build", "release", "cron.nightly", "run.3". */
  readonly label: string;
  /** Give it a pipe on its standard input (a one-off run's); absent: /dev/null. */
  readonly stdin?: boolean;
  /**
   * Descriptors for its standard output and error (an instance's output
   * files, which outlive the daemon); absent: pipes, read through
   * `stdout` and `stderr`, which then stay empty.
   */
  readonly output?: readonly [number, number];
}

/** What a later daemon needs to take a running process over: its pid, and its sandbox's control group (null: a plain process group). */
export interface AdoptionHandle {
  readonly pid: number;
  readonly cgroup: string | null;
}

/** A started process, and everything it starts in turn. */
export interface LaunchedProcess {
  /** The pid berth started (the app itself, or its sandbox's launcher); undefined when it could not start. */
  readonly pid: number | undefined;
  /** Its standard input, when the spec asked for a pipe; null otherwise. */
  readonly stdin?: Writable | null;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves once, when it has ended (a start that failed ends at once, code 127, after `startError`). */
  readonly exited: Promise<ExitInfo>;
  /** Why it could not start, once `exited` resolved with code 127 for that reason; null otherwise. */
  startError(): string | null;
  /** A signal to every process it started (its process group, or every process of its sandbox). */
  signal(signal: NodeJS.Signals): void;
  /** Once it has exited: kills whatever it left behind and frees what was made for it. Idempotent. */
  release(): Promise<void>;
  /** What it uses now (null where nothing measures it: no sandbox). */
  usage(): Promise<ResourceUsage | null>;
  /** The limits it runs under (null: none). */
  readonly limits: ResourceLimits | null;
  /** Where its listeners are reached from the host: 127.0.0.1, or its sandbox's address. */
  readonly host: string;
  /** Its listeners live in a network namespace of the app's own, where nothing else can listen. */
  readonly ownNetwork: boolean;
  /** How a later daemon finds it again (null: it did not start). */
  readonly adoption: AdoptionHandle | null;
  /** Lets it run on without this daemon: nothing of it keeps the daemon's process alive any more. */
  letGo(): void;
}

/** Starts processes; `berth up` and a daemon without root use `plainLauncher`. */
export type Launcher = (spec: LaunchSpec) => Promise<LaunchedProcess>;

/**
 * Takes over a process a previous daemon started (its identity already
 * verified by the caller): a LaunchedProcess whose exit is watched rather
 * than waited for. Null when it cannot be taken over (its sandbox's group
 * is gone): the caller ends it.
 */
export type Adopter = (handle: AdoptionHandle, identity: ProcessIdentity, limits: ResourceLimits | null) => Promise<LaunchedProcess | null>;

/** An empty, ended stream: the output of a process whose output goes to files. */
export function noOutput(): Readable {
  return Readable.from([]);
}

/**
 * Starts the process in its own process group (detached), so stopping it
 * also stops whatever it forked (npm's child, gunicorn's workers), as the
 * app's user when one is given.
 */
export const plainLauncher: Launcher = async (spec) => {
  const [file, ...args] = spec.argv;
  const child = spawn(file!, args, {
    cwd: spec.cwd,
    env: spec.env,
    ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
    // Its own process group: Ctrl-C in berth's terminal reaches berth
    // alone, which then stops every instance in order.
    detached: true,
    stdio: [spec.stdin === true ? 'pipe' : 'ignore', spec.output?.[0] ?? 'pipe', spec.output?.[1] ?? 'pipe'],
  });
  // A program that exits without reading its input closes the pipe: EPIPE on our side is expected.
  child.stdin?.on('error', () => {});
  let startError: string | null = null;
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is gone.
    }
  };
  const exited = new Promise<ExitInfo>((resolve) => {
    let settled = false;
    const finish = (info: ExitInfo) => {
      if (settled) return;
      settled = true;
      resolve(info);
    };
    child.once('error', (error) => {
      startError = error.message;
      finish({ code: 127, signal: null });
    });
    child.once('exit', (code, signal) => finish({ code, signal }));
  });
  return {
    pid: child.pid,
    stdin: child.stdin ?? null,
    stdout: child.stdout ?? noOutput(),
    stderr: child.stderr ?? noOutput(),
    exited,
    startError: () => startError,
    signal: signalGroup,
    // The leader is gone; anything it left in its group goes too, so a
    // crashed gunicorn master cannot leave workers holding the port.
    release: async () => signalGroup('SIGKILL'),
    usage: async () => null,
    limits: null,
    host: '127.0.0.1',
    ownNetwork: false,
    adoption: child.pid === undefined ? null : { pid: child.pid, cgroup: null },
    letGo: () => letGoOf(child),
  };
};

/** The daemon stops and leaves `child` running: its handle and pipes no longer hold the event loop. */
export function letGoOf(child: ChildProcess): void {
  for (const stream of child.stdio) stream?.destroy();
  child.unref();
}

/**
 * A plain process group a previous daemon started: its leader is watched
 * through /proc (berth is not its parent any more, so neither its exit
 * status nor its end can be waited for), signals go to the group.
 */
export const plainAdopter: Adopter = async (handle, identity) => {
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-identity.pgid, signal);
    } catch {
      // The group is gone.
    }
  };
  const watch = watchExit(identity);
  return {
    pid: handle.pid,
    stdin: null,
    stdout: noOutput(),
    stderr: noOutput(),
    exited: watch.ended.then(() => ({ code: null, signal: null, unknown: true })),
    startError: () => null,
    signal: (signal) => {
      signalGroup(signal);
      watch.nudge();
    },
    release: async () => {
      watch.cancel();
      signalGroup('SIGKILL');
    },
    usage: async () => null,
    limits: null,
    host: '127.0.0.1',
    ownNetwork: false,
    adoption: handle,
    letGo: () => watch.cancel(),
  };
};
