// Where a sandboxed start's time goes. The same tiny program (node: listen
// on 127.0.0.1:0, print "up", exit) is started in variants that each add
// one layer of what berth's launcher does, and the time from spawn to "up"
// is compared: plain (the unsandboxed launcher: spawn as the app's uid) →
// + setpriv (the uid drop, capability bounding set, no_new_privs) → +
// nsenter into the app's network namespace → + bwrap (namespaces, the
// mounts of a real instance) → + the seccomp filter → berth's own
// launchSandboxed (+ a cgroup per sandbox, made before and removed after,
// and the info/block descriptor handshake that puts bwrap in it before the
// program runs), and the same without the CPU quota (`--default-cpu
// none`: a runtime that starts several threads at once meets its quota). The
// control group's create and remove are also timed alone. It uses the running sandboxed daemon's app: its network namespace,
// its user, its /etc files; the code is src/sandbox's own (imported by the
// harness; the daemons run the same code from dist/).
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import {
  appMounts,
  defaultSeccompProgram,
  detectCgroups,
  DEFAULT_INSTANCE_LIMITS,
  launchArgv,
  launchSandboxed,
  readHostLayout,
  runtimeRoots,
  seccompArch,
  stateId,
  type CgroupDriver,
  type SandboxTools,
} from '../../../src/sandbox/index.ts';

/** The variants, in the order they add layers. */
export const VARIANTS = ['plain', 'setpriv', 'nsenter+setpriv', 'bwrap+setpriv', 'nsenter+bwrap+setpriv', 'nsenter+bwrap+setpriv, /etc entry by entry', 'nsenter+bwrap+seccomp+setpriv', 'launchSandboxed', 'launchSandboxed, no CPU quota'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface BreakdownResult {
  /** Spawn → "up", ms, per run. */
  readonly upMs: Readonly<Record<Variant, readonly number[]>>;
  /** launchSandboxed alone: until it returned (the launch berth logs as "started"). */
  readonly launchReturnedMs: readonly number[];
  readonly cgroupCreateMs: readonly number[];
  readonly cgroupRemoveMs: readonly number[];
  readonly cgroupVersion: 1 | 2;
  readonly mounts: number;
  /** The same sandbox's mounts with /etc bound entry by entry (as before the daemon's copy of /etc). */
  readonly mountsEntryByEntry: number;
  readonly errors: readonly string[];
}

const PROGRAM = "require('net').createServer().listen(0, '127.0.0.1', () => { process.stdout.write('up\\n'); process.exit(0); })";
const RUN_TIMEOUT_MS = 15_000;
const SECCOMP_FD = 5;

/** launchArgv's command without the info and block descriptors (the variants below need no handshake). Pure. */
export function withoutHandshake(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '--info-fd' || argv[i] === '--block-fd') && i + 1 < argv.length) {
      i++;
      continue;
    }
    out.push(argv[i]!);
  }
  return out;
}

/** From setpriv on: what runs once the sandbox is made (setpriv … -- program). Pure. */
export function setprivTail(argv: readonly string[], setpriv: string): string[] {
  const chdir = argv.indexOf('--chdir');
  const at = argv.indexOf(setpriv, chdir === -1 ? 0 : chdir);
  if (at === -1) throw new Error('no setpriv in the launch command');
  return argv.slice(at);
}

async function findTool(name: string): Promise<string> {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    try {
      await access(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  throw new Error(`${name} is not installed`);
}

/** Spawns argv, resolves with ms from spawn to its "up" line, once it has exited. */
function timeUp(argv: readonly string[], options: { uid?: number; gid?: number; env: Record<string, string>; seccomp?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe'];
    if (options.seccomp) stdio.push('ignore', 'ignore', 'pipe');
    const child = spawn(argv[0]!, argv.slice(1), { cwd: '/', env: options.env, stdio, detached: true, ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }) });
    if (options.seccomp) {
      const fd = (child.stdio as unknown as Writable[])[SECCOMP_FD]!;
      fd.on('error', () => {});
      fd.end(options.seccomp);
    }
    let upMs: number | null = null;
    let output = '';
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, RUN_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (upMs === null && output.includes('up\n')) upMs = performance.now() - started;
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (upMs !== null && code === 0) resolve(upMs);
      else reject(new Error(`${argv[0]} exited with ${code} before "up": ${output.trim().slice(-400)}`));
    });
  });
}

export interface BreakdownInput {
  readonly state: string;
  readonly app: string;
  /** A fresh folder for the program's "release". */
  readonly workDir: string;
  readonly runs: number;
}

/** Times each variant `runs` times, interleaved; the control group's steps alone as many times. */
export async function measureBreakdown(input: BreakdownInput, log: (line: string) => void): Promise<BreakdownResult> {
  const id = stateId(input.state);
  const netnsPath = `/run/berth/${id}/netns/${input.app}`;
  const home = join(input.state, 'apps', input.app, 'home');
  const owner = await stat(home);
  const user = { uid: owner.uid, gid: owner.gid };
  const build = join(input.workDir, 'release');
  await mkdir(build, { recursive: true, mode: 0o755 });
  const tools: SandboxTools = { bwrap: await findTool('bwrap'), setpriv: await findTool('setpriv'), nsenter: await findTool('nsenter') };
  const folders = {
    build,
    buildWritable: false,
    home,
    cache: null,
    data: null,
    runtimes: runtimeRoots([process.execPath], input.state),
    etcDir: join(input.state, 'run', 'sandbox', input.app, 'etc'),
  };
  // The daemon's copy of /etc, as its sandboxes bind it; and, for comparison, each entry bound from the host as before.
  const layout = await readHostLayout();
  const mounts = appMounts({ ...layout, etcMirror: join(input.state, 'run', 'etc-mirror') }, folders);
  const entryByEntry = appMounts(layout, folders);
  const arch = seccompArch();
  const seccomp = arch === null ? null : defaultSeccompProgram(arch);
  // Groups of their own, beside the daemon's (its sweep never meets them).
  const detected = await detectCgroups({ rootName: `berth/bench-${process.pid}` });
  if (detected.driver === null) throw new Error(`no cgroups: ${detected.reason}`);
  const cgroups: CgroupDriver = detected.driver;
  const program = [process.execPath, '-e', PROGRAM];
  const env = { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };
  const spec = { hostname: input.app, user, cwd: build, argv: program, mounts };
  const fds = { info: 3, block: 4, seccomp: SECCOMP_FD };
  const full = withoutHandshake(launchArgv({ ...spec, netnsPath }, tools, fds));
  const noSeccomp = withoutHandshake(launchArgv({ ...spec, netnsPath }, tools, { ...fds, seccomp: null }));
  const etcByEntry = withoutHandshake(launchArgv({ ...spec, mounts: entryByEntry, netnsPath }, tools, { ...fds, seccomp: null }));
  const ownNet = withoutHandshake(launchArgv({ ...spec, netnsPath: null }, tools, { ...fds, seccomp: null }));
  const setpriv = setprivTail(full, tools.setpriv);
  const run: Record<Exclude<Variant, 'launchSandboxed' | 'launchSandboxed, no CPU quota'>, () => Promise<number>> = {
    plain: () => timeUp(program, { ...user, env }),
    setpriv: () => timeUp(setpriv, { env }),
    'nsenter+setpriv': () => timeUp([tools.nsenter, `--net=${netnsPath}`, '--', ...setpriv], { env }),
    'bwrap+setpriv': () => timeUp(ownNet, { env }),
    'nsenter+bwrap+setpriv': () => timeUp(noSeccomp, { env }),
    'nsenter+bwrap+setpriv, /etc entry by entry': () => timeUp(etcByEntry, { env }),
    'nsenter+bwrap+seccomp+setpriv': () => (seccomp === null ? Promise.reject(new Error('no seccomp filter on this architecture')) : timeUp(full, { env, seccomp })),
  };
  const upMs = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  const launchReturnedMs: number[] = [];
  const cgroupCreateMs: number[] = [];
  const cgroupRemoveMs: number[] = [];
  const errors: string[] = [];
  const deps = { tools, cgroups, seccomp };
  const sandbox = { app: input.app, hostname: input.app, user, mounts, netnsPath, host: '127.0.0.1', limits: DEFAULT_INSTANCE_LIMITS };

  for (let i = 0; i < input.runs; i++) {
    for (const variant of VARIANTS) {
      try {
        if (variant === 'launchSandboxed' || variant === 'launchSandboxed, no CPU quota') {
          const limits = variant === 'launchSandboxed' ? DEFAULT_INSTANCE_LIMITS : { ...DEFAULT_INSTANCE_LIMITS, cpu: null };
          const started = performance.now();
          const launched = await launchSandboxed({ argv: program, cwd: build, env, user, label: `breakdown.${i}` }, { ...sandbox, limits }, deps);
          if (variant === 'launchSandboxed') launchReturnedMs.push(performance.now() - started);
          let output = '';
          let up: number | null = null;
          launched.stdout.on('data', (chunk: Buffer) => {
            output += chunk.toString('utf8');
            if (up === null && output.includes('up\n')) up = performance.now() - started;
          });
          launched.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
          const ended = Promise.all([launched.exited, new Promise((resolve) => launched.stdout.once('close', resolve))]);
          const outcome = await Promise.race([ended, new Promise<null>((resolve) => setTimeout(resolve, RUN_TIMEOUT_MS, null).unref())]);
          if (outcome === null) launched.signal('SIGKILL');
          await launched.release();
          const exit = outcome?.[0];
          if (exit === undefined || exit.code !== 0 || up === null) throw new Error(`${variant}: ${exit === undefined ? 'timed out' : `exit ${exit.code ?? exit.signal}`} ${output.trim().slice(-400)}`);
          upMs[variant].push(up);
        } else {
          upMs[variant].push(await run[variant]());
        }
      } catch (err) {
        errors.push(`${variant}: ${(err as Error).message}`);
      }
    }
    try {
      let started = performance.now();
      const group = await cgroups.create(`${input.app}/alone-${i}`, DEFAULT_INSTANCE_LIMITS);
      cgroupCreateMs.push(performance.now() - started);
      started = performance.now();
      await group.remove();
      cgroupRemoveMs.push(performance.now() - started);
    } catch (err) {
      errors.push(`cgroup: ${(err as Error).message}`);
    }
    log(`breakdown ${i + 1}/${input.runs}: ${VARIANTS.map((v) => `${v} ${upMs[v].at(-1)?.toFixed(0) ?? '?'}`).join(', ')} ms`);
  }
  return { upMs, launchReturnedMs, cgroupCreateMs, cgroupRemoveMs, cgroupVersion: cgroups.version, mounts: mounts.length, mountsEntryByEntry: entryByEntry.length, errors };
}
