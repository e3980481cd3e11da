import { spawn } from 'node:child_process';
import { BerthError } from '../errors.ts';
import type { AddonUser } from './types.ts';

export interface ToolOptions {
  /** The whole environment of the tool (secrets go here or in files, never in argv). Default: PATH and LANG only. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the tool's stdin, which is then closed. */
  readonly input?: string | Buffer;
  readonly cwd?: string;
  readonly user?: AddonUser | null;
  /** Kill the tool's process group after this long (default 10 minutes). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface ToolResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Output kept per stream; a tool that says more keeps its last bytes. */
const MAX_OUTPUT = 1 << 20;

/** The environment tools get by default: enough to find programs, nothing of berth's. */
export function toolEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...extra };
}

function tail(text: string, lines = 6): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/**
 * Runs one program (argv, no shell) in its own process group and collects
 * its output. Rejects with BERTH_E_ADDON_TOOL, naming the program and its
 * last error lines, when it is missing, fails, times out or is aborted; the
 * whole group is killed in the last two cases so nothing outlives the call.
 */
export function runTool(argv: readonly string[], options: ToolOptions = {}): Promise<ToolResult> {
  const [file, ...args] = argv;
  const name = file!.split('/').pop()!;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new BerthError('BERTH_E_ADDON_TOOL', `${name} was not started: the operation was cancelled`, { status: 500 }));
      return;
    }
    const child = spawn(file!, args, {
      cwd: options.cwd,
      env: options.env ?? toolEnv(),
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let ended: string | null = null;
    const keep = (text: string, chunk: Buffer) => (text + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    child.stdout.on('data', (chunk: Buffer) => (stdout = keep(stdout, chunk)));
    child.stderr.on('data', (chunk: Buffer) => (stderr = keep(stderr, chunk)));
    const killGroup = (why: string) => {
      ended ??= why;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    };
    const timer = setTimeout(() => killGroup(`timed out after ${Math.round((options.timeoutMs ?? 600_000) / 1000)} s`), options.timeoutMs ?? 600_000);
    const onAbort = () => killGroup('was cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdin.on('error', () => {}); // a tool that exits without reading its input
    child.stdin.end(options.input ?? '');
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const missing = err.code === 'ENOENT';
      reject(
        new BerthError('BERTH_E_ADDON_TOOL', missing ? `${name} is not installed (${file} not found)` : `${name} could not start: ${err.message}`, {
          status: 500,
          hint: missing ? "Install Debian's postgresql (or postgresql-client), redis-server and redis-tools packages." : undefined,
        }),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (ended === null && code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const how = ended ?? (signal !== null ? `was killed by ${signal}` : `failed with exit code ${code}`);
      const said = tail(stderr) || tail(stdout);
      reject(new BerthError('BERTH_E_ADDON_TOOL', `${name} ${how}${said ? `: ${said}` : ''}`, { status: 500 }));
    });
  });
}
