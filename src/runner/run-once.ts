import { spawn } from 'node:child_process';
import type { RunAs } from './instance.ts';
import { LineSplitter } from './line-splitter.ts';

/**
 * Runs a command to completion in its own process group (install steps, the
 * `release` process type), streaming its output line by line. Resolves with
 * the exit code; a signal or a failure to start counts as failure.
 */
export function runOnce(
  argv: readonly string[],
  options: { cwd: string; env: Readonly<Record<string, string>>; onLine: (line: string) => void; signal?: AbortSignal; user?: RunAs | null },
): Promise<number> {
  const [file, ...args] = argv;
  return new Promise((resolve) => {
    const child = spawn(file!, args, {
      cwd: options.cwd,
      env: options.env,
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = new LineSplitter(options.onLine);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    const abort = () => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    };
    options.signal?.addEventListener('abort', abort, { once: true });
    let settled = false;
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      lines.end();
      options.signal?.removeEventListener('abort', abort);
      resolve(code);
    };
    child.once('error', (error) => {
      options.onLine(`cannot start ${file}: ${error.message}`);
      finish(127);
    });
    child.once('exit', (code) => finish(code ?? 1));
  });
}
