import { BerthError } from '../errors.ts';

/**
 * What goes into an app's layers, decided without touching files.
 *
 * Two layers: the dependencies (the release's top-level `node_modules` and
 * `.venv`, what `npm ci` and pip made) and the app (everything else). A
 * code-only change leaves the dependencies layer byte-identical, so a
 * registry already has it and only the app layer is pushed.
 */
export type LayerName = 'dependencies' | 'app';

export const DEPENDENCY_FOLDERS: readonly string[] = ['node_modules', '.venv'];

export function layerOf(topLevelName: string): LayerName {
  return DEPENDENCY_FOLDERS.includes(topLevelName) ? 'dependencies' : 'app';
}

export interface ImageLimits {
  /** Most bytes of file content in the app's layers together. */
  readonly maxBytes: number;
  /** Most files, folders and links in the app's layers together. */
  readonly maxEntries: number;
  /** Most folders nested below the release's top. */
  readonly maxDepth: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 4 * 1024 ** 3, maxEntries: 500_000, maxDepth: 64 };

/** Longest path inside a layer (Linux's PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

export type EntryKind = 'file' | 'directory' | 'symlink';

/**
 * Modes are normalised so that the umask of the machine that built the
 * release does not change the digest, and no set-id or sticky bit reaches
 * the image: an app cannot ship a set-uid-root program.
 */
export function normalMode(kind: EntryKind, mode: number): number {
  if (kind === 'directory') return 0o755;
  if (kind === 'symlink') return 0o777;
  return (mode & 0o111) !== 0 ? 0o755 : 0o644;
}

export function sourceRefusal(message: string): BerthError {
  return new BerthError('BERTH_E_IMAGE_SOURCE', message, { status: 422, hint: 'leave sockets, FIFOs and devices out of the release (.berthignore), keep its files its own, and do not change it while the image is built' });
}

/**
 * A name in the release that an image cannot carry: `.wh.` names are
 * whiteouts to every container runtime (they would delete files of the
 * layers below), and names that are not UTF-8 have no stable tar form.
 */
export function refuseName(bytes: Buffer, where: string): string {
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw sourceRefusal(`${where} holds a name that is not valid UTF-8 (${JSON.stringify(bytes.toString('latin1'))})`);
  }
  if (name.startsWith('.wh.')) throw sourceRefusal(`${JSON.stringify(`${where}/${name}`)} is named like a whiteout (.wh.), which would delete files of the layers below in every container runtime`);
  return name;
}

/** Counts what a build reads against its limits. */
export class LayerBudget {
  #bytes = 0;
  #entries = 0;
  readonly limits: ImageLimits;

  constructor(limits: ImageLimits) {
    this.limits = limits;
  }

  entry(path: string, size: number): void {
    this.#entries++;
    this.#bytes += size;
    if (this.#entries > this.limits.maxEntries) throw tooLarge(`the release has more than ${this.limits.maxEntries} files, folders and links (at ${JSON.stringify(path)})`);
    if (this.#bytes > this.limits.maxBytes) throw tooLarge(`the release holds more than ${this.limits.maxBytes} bytes (at ${JSON.stringify(path)})`);
    if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw tooLarge(`a path in the release is longer than ${MAX_PATH_BYTES} bytes (${JSON.stringify(path.slice(0, 200))}…)`);
  }

  depth(path: string, depth: number): void {
    if (depth > this.limits.maxDepth) throw tooLarge(`the release nests folders more than ${this.limits.maxDepth} deep (at ${JSON.stringify(path)})`);
  }
}

function tooLarge(message: string): BerthError {
  return new BerthError('BERTH_E_IMAGE_TOO_LARGE', message, { status: 413, hint: 'leave build output and large assets out of the release (.berthignore), or raise the image limits' });
}

/**
 * The layer folders that lead to the app's folder (`/srv/app` → `srv`,
 * `srv/app`), each in both layers so either can be unpacked alone.
 */
export function appDirComponents(appDir: string): string[] {
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(appDir) || appDir.split('/').some((part) => part === '.' || part === '..')) {
    throw new BerthError('BERTH_E_USAGE', `the app folder in the image must be an absolute path of plain names, not ${JSON.stringify(appDir)}`, { hint: 'e.g. /app' });
  }
  const parts = appDir.slice(1).split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}
