import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import { StateLock } from '../platform/index.ts';
import { readProcessNow } from '../runner/index.ts';

// `berth server stop [--apps]`: the local way to stop a daemon, as root on
// its machine. A plain stop is SIGTERM: the control plane stops, the apps
// (and the edge) run on for the next daemon to take over. --apps leaves a
// mark in the state folder first, so that very SIGTERM stops everything —
// the same whether the daemon runs in a terminal, under systemd (which also
// sends SIGTERM on `systemctl stop`) or anything else.

/** STATE/run/stop-apps: present when the daemon's next SIGTERM is a full stop. */
export function stopAppsMark(stateDir: string): string {
  return join(stateDir, 'run', 'stop-apps');
}

/** Whether the next SIGTERM stops the apps too (read once, then forgotten). */
export function takeStopAppsMark(stateDir: string): boolean {
  const mark = stopAppsMark(stateDir);
  if (!existsSync(mark)) return false;
  rmSync(mark, { force: true });
  return true;
}

/** Forgets a mark a previous stop left (the daemon it was for is gone). */
export function clearStopAppsMark(stateDir: string): void {
  rmSync(stopAppsMark(stateDir), { force: true });
}

export interface ServerStopOptions {
  readonly stateDir: string;
  readonly apps: boolean;
  readonly timeoutMs: number;
  readonly out: (text: string) => void;
}

/** Stops the daemon on `stateDir` and waits until it has exited. */
export async function serverStop(options: ServerStopOptions): Promise<void> {
  const pid = StateLock.holder(options.stateDir);
  if (pid === null) {
    throw new BerthError('BERTH_E_NOT_RUNNING', `no berth server runs on ${options.stateDir}`, {
      hint: 'Give the --state folder the daemon runs on (default /var/lib/berth); as root, so its lock can be seen.',
    });
  }
  const identity = await readProcessNow(pid);
  if (options.apps) {
    mkdirSync(join(options.stateDir, 'run'), { recursive: true, mode: 0o700 });
    writeFileAtomic(stopAppsMark(options.stateDir), `${pid}\n`, 0o600);
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    throw new BerthError('BERTH_E_NOT_RUNNING', `cannot signal the berth server (pid ${pid}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'Run it as root (sudo), as the daemon runs.', cause: err });
  }
  options.out(`sent SIGTERM to berth server (pid ${pid})${options.apps ? ': stopping it and its apps' : ': stopping the control plane; the apps keep running'}\n`);
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const now = await readProcessNow(pid);
    if (now === null || now.zombie || now.startTime !== identity?.startTime) break;
    if (Date.now() > deadline) {
      throw new BerthError('BERTH_E_STOP_TIMEOUT', `berth server (pid ${pid}) has not exited after ${Math.round(options.timeoutMs / 1000)} s`, {
        hint: 'It may still be draining (long requests, a build in its grace period): wait, or run the command again to see. A second SIGTERM forces it out.',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  options.out('stopped\n');
}
