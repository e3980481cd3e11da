import { startCommand } from './command-run.ts';
import type { Launcher, RunAs } from './launcher.ts';

/**
 * Runs a command to completion in its own process group (build steps, the
 * `release` process type), streaming its output line by line. Resolves with
 * the exit code; a signal or a failure to start counts as failure (127 when
 * it could not start, with a line saying why). Aborting kills the group.
 */
export async function runOnce(
  argv: readonly string[],
  options: { cwd: string; env: Readonly<Record<string, string>>; onLine: (line: string) => void; signal?: AbortSignal; user?: RunAs | null; launcher?: Launcher; label?: string },
): Promise<number> {
  const run = startCommand(argv, {
    cwd: options.cwd,
    env: options.env,
    onLine: options.onLine,
    timeoutMs: null,
    user: options.user ?? null,
    ...(options.launcher ? { launcher: options.launcher } : {}),
    ...(options.label ? { label: options.label } : {}),
  });
  const abort = () => run.kill();
  options.signal?.addEventListener('abort', abort, { once: true });
  if (options.signal?.aborted) run.kill();
  try {
    const outcome = await run.done;
    if (outcome.startError !== null) {
      options.onLine(`cannot start ${argv[0]}: ${outcome.startError}`);
      return 127;
    }
    return outcome.exitCode ?? 1;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
