import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BerthError } from '../errors.ts';
import { StateLock } from '../platform/index.ts';
import { readProcessNow } from '../runner/index.ts';

// Upgrading berth in place (SIGUSR2, `berth server upgrade`): the daemon
// starts its successor — the same command line, so whatever berth is
// installed at that path now — beside itself. The successor loads its code
// and checks its flags, says it is ready over the IPC channel, and waits for
// the state folder's lock; only then does the old daemon stop its control
// plane (the apps and the edge run on, as at any SIGTERM) and exit, and the
// successor takes over. A successor that dies, or is not ready in time,
// changes nothing: the old daemon keeps running and says why.

/** Set in the successor's environment: the pid of the daemon it takes over from. */
export const TAKEOVER_ENV = 'BERTH_TAKEOVER_FROM';

/** How long a successor has to load and say it is ready. */
const READY_TIMEOUT_MS = 60_000;
/** How long a successor waits for the old daemon to let go of the state folder. */
const LOCK_WAIT_MS = 120_000;

/**
 * Old side: starts the successor and resolves once it is ready to take
 * over (true), or has failed (false, said in the log; it is ended).
 */
export function startSuccessor(log: (line: string) => void): Promise<boolean> {
  const args = [...process.execArgv, ...process.argv.slice(1)];
  const child = spawn(process.execPath, args, {
    // Its own session: it outlives this daemon, and a terminal's Ctrl-C meant for this one is not its.
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [TAKEOVER_ENV]: String(process.pid) },
  });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (ready: boolean, why?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!ready) {
        log(`upgrade: the new version did not start (${why}); this one keeps running`);
        child.kill('SIGKILL');
      } else {
        // Nothing of it holds this process up as it stops.
        child.channel?.unref();
        child.unref();
      }
      resolve(ready);
    };
    const timer = setTimeout(() => settle(false, `not ready within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    child.once('error', (err) => settle(false, err.message));
    child.once('exit', (code, signal) => settle(false, signal === null ? `it exited with code ${code}` : `it ended with ${signal}`));
    child.on('message', (message) => {
      if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'ready') settle(true);
    });
  });
}

/** Successor side: the pid it takes over from (null: an ordinary start). */
export function takeoverFrom(): number | null {
  const value = process.env[TAKEOVER_ENV];
  if (value === undefined || process.send === undefined) return null;
  const pid = Number(value);
  return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
}

/**
 * Successor side: says it is ready, then takes the state folder's lock as
 * soon as the old daemon lets go of it.
 */
export async function takeOverLock(stateDir: string, log: (line: string) => void): Promise<StateLock> {
  const from = takeoverFrom();
  delete process.env[TAKEOVER_ENV];
  if (from === null) return StateLock.acquire(stateDir);
  log(`upgrade: taking over from pid ${from}`);
  process.send!({ type: 'ready' });
  // The old daemon goes away with its end of the channel: that must not end this one.
  process.on('disconnect', () => {});
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const lock = StateLock.acquire(stateDir);
      if (process.connected) process.disconnect();
      return lock;
    } catch (err) {
      if ((err as { code?: string }).code !== 'BERTH_E_STATE_LOCKED' || Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface ServerUpgradeOptions {
  readonly stateDir: string;
  readonly timeoutMs: number;
  readonly out: (text: string) => void;
}

/** Whether a process was started by systemd (its environment carries INVOCATION_ID). */
function underSystemd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`).toString('latin1').split('\0').some((entry) => entry.startsWith('INVOCATION_ID='));
  } catch {
    return false;
  }
}

/** `berth server upgrade`: SIGUSR2 to the daemon, then waits until another process holds the folder. */
export async function serverUpgrade(options: ServerUpgradeOptions): Promise<void> {
  const pid = StateLock.holder(options.stateDir);
  if (pid === null) throw new BerthError('BERTH_E_NOT_RUNNING', `no berth server runs on ${options.stateDir}`, { hint: 'Give the --state folder the daemon runs on (default /var/lib/berth); as root, so its lock can be seen.' });
  if (underSystemd(pid)) {
    throw new BerthError('BERTH_E_USAGE', `the berth server on ${options.stateDir} (pid ${pid}) runs as a systemd service`, {
      hint: 'Run systemctl restart berth: under systemd a restart is the upgrade (the apps and the edge keep serving while the control plane restarts with the version now installed).',
    });
  }
  const before = await readProcessNow(pid);
  process.kill(pid, 'SIGUSR2');
  options.out(`sent SIGUSR2 to berth server (pid ${pid}): it starts the version now installed beside itself and hands over\n`);
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const holder = StateLock.holder(options.stateDir);
    if (holder !== null && holder !== pid) {
      options.out(`upgraded: berth server runs as pid ${holder}\n`);
      return;
    }
    const now = await readProcessNow(pid);
    const oldRuns = now !== null && !now.zombie && now.startTime === before?.startTime;
    if (Date.now() > deadline) {
      throw new BerthError('BERTH_E_STOP_TIMEOUT', oldRuns ? `the new version has not taken over after ${Math.round(options.timeoutMs / 1000)} s; the old daemon (pid ${pid}) keeps running` : `no daemon holds ${options.stateDir} after ${Math.round(options.timeoutMs / 1000)} s`, {
        hint: "The daemon's log says why (upgrade: …). The apps and the edge keep serving either way.",
      });
    }
  }
}
