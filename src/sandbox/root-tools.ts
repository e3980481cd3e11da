import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../errors.ts';
import { ROOT_TOOLS_DIR } from './spec.ts';

// setpriv for sandboxes over an image's root. A sandbox drops to the app's
// user with the host's setpriv (bwrap runs as root); an image need not have
// one (distroless, busybox, slim images), and one it has is the image's, not
// berth's. So the host's setpriv and the libraries it links are copied into
// a folder of berth's, shown read-only inside at ROOT_TOOLS_DIR, and run by
// their own dynamic loader with --library-path, with the loader's variables
// that load code unset and the image's ld.so.preload covered (spec.ts):
// nothing of the image is loaded into it, and the program it then runs is
// the image's own, loaded by the image's loader. Copies, not binds of the host's files: the folder
// is named by their content, made once and never changed.

const run = promisify(execFile);

export interface RootTools {
  /** The folder on the host (shown at ROOT_TOOLS_DIR). */
  readonly dir: string;
  /** The command that runs setpriv inside a root that shows the folder. */
  readonly setpriv: readonly string[];
}

/**
 * What `ldd PROGRAM` says it loads: the libraries by path and the dynamic
 * loader (the line without `=>`), the vDSO left out. null for a static
 * program. Pure.
 */
export function parseLdd(output: string): { loader: string | null; libraries: string[] } | null {
  if (/not a dynamic executable|statically linked/.test(output)) return null;
  const libraries: string[] = [];
  let loader: string | null = null;
  for (const line of output.split('\n')) {
    const linked = /^\s*\S+\s+=>\s+(\/\S+)\s+\(0x[0-9a-f]+\)\s*$/.exec(line);
    if (linked) {
      libraries.push(linked[1]!);
      continue;
    }
    const bare = /^\s*(\/\S+)\s+\(0x[0-9a-f]+\)\s*$/.exec(line);
    if (bare) loader = bare[1]!;
    else if (/=>\s+not found/.test(line)) throw new Error(`a library is missing: ${line.trim()}`);
  }
  return { loader, libraries };
}

/** The command inside the root. Pure. */
export function setprivCommand(loader: string | null, libraries: readonly string[]): string[] {
  const program = `${ROOT_TOOLS_DIR}/setpriv`;
  if (loader === null) return [program];
  return [`${ROOT_TOOLS_DIR}/${basename(loader)}`, ...(libraries.length > 0 ? ['--library-path', ROOT_TOOLS_DIR] : []), program];
}

/** setpriv (at `setpriv` on the host) and what it loads, copied once into a folder under `parent` (berth's own). */
export async function rootTools(parent: string, setpriv: string): Promise<RootTools> {
  const failed = (why: string, cause?: unknown) =>
    new BerthError('BERTH_E_BUILD_ROOT', `cannot bring setpriv into an image's root: ${why}`, { status: 500, hint: 'Is util-linux (setpriv) installed on the server?', ...(cause === undefined ? {} : { cause }) });
  let linked: { loader: string | null; libraries: string[] } | null;
  try {
    linked = parseLdd((await run('ldd', [setpriv], { encoding: 'utf8', timeout: 10_000 }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: `${err.stdout ?? ''}${err.stderr ?? ''}` }))).stdout);
  } catch (err) {
    throw failed((err as Error).message, err);
  }
  const files = [setpriv, ...(linked === null ? [] : [...linked.libraries, ...(linked.loader === null ? [] : [linked.loader])])];
  if (files.some((file) => !isAbsolute(file)) || new Set(files.map((file) => basename(file))).size !== files.length) throw failed(`ldd named ${files.join(', ')}`);
  const hash = createHash('sha256').update('v2 with empty\0');
  for (const file of files) hash.update(basename(file)).update('\0').update(await readFile(file)).update('\0');
  const dir = join(parent, hash.digest('hex').slice(0, 16));
  const command = setprivCommand(linked?.loader ?? null, linked?.libraries ?? []);
  if ((await lstat(dir).catch(() => null))?.isDirectory()) return { dir, setpriv: command };
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const temp = await mkdtemp(join(parent, '.making-'));
  try {
    for (const file of files) {
      const copy = join(temp, file === setpriv ? 'setpriv' : basename(file));
      await copyFile(file, copy);
      await chmod(copy, 0o755);
    }
    // Covers the image's /etc/ld.so.preload (spec.ts imageRootMounts).
    await writeFile(join(temp, 'empty'), '', { mode: 0o644 });
    await chmod(temp, 0o755);
    await rename(temp, dir).catch(async (err: NodeJS.ErrnoException) => {
      if (!(await lstat(dir).catch(() => null))?.isDirectory()) throw err;
      await rm(temp, { recursive: true, force: true });
    });
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw failed((err as Error).message, err);
  }
  return { dir, setpriv: command };
}
