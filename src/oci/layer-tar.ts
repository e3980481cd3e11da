import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../build/index.ts';
import { appDirComponents, normalMode, refuseName, sourceRefusal, type EntryKind, type LayerBudget } from './layer-plan.ts';

export interface LayerTarOptions {
  /** The release folder: hostile input (see docs/ARCHITECTURE.md, "OCI images"). */
  readonly releaseDir: string;
  /** Where the release goes in the image, e.g. /app. */
  readonly appDir: string;
  /** Which of the release's top-level names this layer holds. */
  readonly include: (topLevelName: string) => boolean;
  /** Every entry's mtime, seconds since the epoch. */
  readonly mtime: number;
  /** The uid every entry of the release must belong to (default: the release folder's owner); anything else is refused. */
  readonly owner?: number | undefined;
  readonly budget: LayerBudget;
}

const READ_CHUNK = 256 * 1024;
const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * One layer's tar stream, produced while the release is walked.
 *
 * The release belongs to the app, which may swap any name in it for a link
 * at any moment. So nothing below the top is looked up by path: each folder
 * is held open and its children are reached through `/proc/self/fd/N/NAME`
 * (the kernel resolves the folder by descriptor, then the one name, without
 * following it when it is a link); files and folders are opened O_NOFOLLOW
 * and must be the entry that lstat saw. Links are written as links, never
 * followed; sockets, FIFOs and devices are refused, as is any entry of
 * another owner (a hard link to a file of root's). A file is read to the
 * size it had, and one that changed meanwhile is refused.
 *
 * The system calls are synchronous: each is a few microseconds on a local
 * disk, where a trip through libuv's thread pool per call made a build of
 * 15,000 files several times slower on a busy machine (bench:image); the
 * generator yields about every 256 KiB, so the event loop still turns.
 *
 * Entries are in a fixed order (each folder's names sorted by their bytes,
 * depth first), owned by 0:0 with no names, with one mtime and normalised
 * modes, so the same release gives the same bytes.
 */
export async function* layerTar(options: LayerTarOptions): AsyncGenerator<Buffer> {
  const { mtime } = options;
  const out = new Batch();
  for (const dir of appDirComponents(options.appDir)) out.push(encodeHeader({ path: dir, kind: 'directory', mode: 0o755, mtime, size: 0 }));
  let top: number;
  try {
    top = openSync(options.releaseDir, DIRECTORY_FLAGS);
  } catch (err) {
    throw sourceRefusal(`the release folder ${options.releaseDir} cannot be opened as a folder (a link is never followed): ${(err as Error).message}`);
  }
  try {
    const owner = options.owner ?? fstatSync(top).uid;
    yield* walk(top, appDirComponents(options.appDir).at(-1)!, '', 1, { ...options, owner }, out);
  } finally {
    closeSync(top);
  }
  out.push(END_OF_ARCHIVE);
  yield out.take();
}

/** Yields the tar in pieces of about BATCH_BYTES: one yield per small file made the walk several times slower. */
async function* walk(folder: number, layerPath: string, releasePath: string, depth: number, options: LayerTarOptions & { readonly owner: number }, out: Batch): AsyncGenerator<Buffer> {
  const at = `/proc/self/fd/${folder}`;
  const raw = readdirSync(at, { encoding: 'buffer' });
  raw.sort(Buffer.compare);
  for (const bytes of raw) {
    const name = refuseName(bytes, releasePath === '' ? '.' : releasePath);
    if (depth === 1 && !options.include(name)) continue;
    const path = `${layerPath}/${name}`;
    const shown = releasePath === '' ? name : `${releasePath}/${name}`;
    const facts = vanishing(() => lstatSync(`${at}/${name}`, { bigint: true }), shown);
    const kind = entryKind(facts, shown);
    if (Number(facts.uid) !== options.owner) throw sourceRefusal(`${JSON.stringify(shown)} belongs to uid ${facts.uid}, not to the release's owner (uid ${options.owner}); a hard link to someone else's file is never read`);
    const size = kind === 'file' ? Number(facts.size) : 0;
    options.budget.entry(shown, size);
    const mode = normalMode(kind, Number(facts.mode));
    if (kind === 'symlink') {
      const target = refuseLinkTarget(vanishing(() => readlinkSync(`${at}/${name}`, { encoding: 'buffer' }), shown), shown);
      out.push(encodeHeader({ path, kind, mode, mtime: options.mtime, size: 0, linkpath: target }));
    } else if (kind === 'directory') {
      options.budget.depth(shown, depth);
      const child = openSame(`${at}/${name}`, DIRECTORY_FLAGS, facts, shown);
      try {
        out.push(encodeHeader({ path, kind, mode, mtime: options.mtime, size: 0 }));
        yield* walk(child, path, shown, depth + 1, options, out);
      } finally {
        closeSync(child);
      }
    } else {
      const file = openSame(`${at}/${name}`, FILE_FLAGS, facts, shown);
      try {
        out.push(encodeHeader({ path, kind, mode, mtime: options.mtime, size }));
        let position = 0;
        while (position < size) {
          const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - position));
          const bytesRead = readSync(file, buffer, 0, buffer.length, position);
          if (bytesRead === 0) throw changed(shown);
          position += bytesRead;
          out.push(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
          if (out.full) yield out.take();
        }
        out.push(padding(size));
        const after = fstatSync(file, { bigint: true });
        if (after.size !== facts.size || after.mtimeNs !== facts.mtimeNs) throw changed(shown);
      } finally {
        closeSync(file);
      }
    }
    if (out.full) yield out.take();
  }
}

const BATCH_BYTES = 256 * 1024;

class Batch {
  #parts: Buffer[] = [];
  #bytes = 0;

  push(part: Buffer): void {
    this.#parts.push(part);
    this.#bytes += part.length;
  }

  get full(): boolean {
    return this.#bytes >= BATCH_BYTES;
  }

  take(): Buffer {
    const taken = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#bytes);
    this.#parts = [];
    this.#bytes = 0;
    return taken;
  }
}

function entryKind(facts: BigIntStats, shown: string): EntryKind {
  if (facts.isFile()) return 'file';
  if (facts.isDirectory()) return 'directory';
  if (facts.isSymbolicLink()) return 'symlink';
  const what = facts.isSocket() ? 'a socket' : facts.isFIFO() ? 'a FIFO' : 'a device';
  throw sourceRefusal(`${JSON.stringify(shown)} is ${what}; an image holds only files, folders and links`);
}

/** Opens what lstat saw, or refuses: a swap between the two is a change. */
function openSame(path: string, flags: number, seen: BigIntStats, shown: string): number {
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO') throw changed(shown);
    throw err;
  }
  const facts = fstatSync(fd, { bigint: true });
  if (facts.ino !== seen.ino || facts.dev !== seen.dev) {
    closeSync(fd);
    throw changed(shown);
  }
  return fd;
}

function refuseLinkTarget(bytes: Buffer, shown: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw sourceRefusal(`the link ${JSON.stringify(shown)} leads to a name that is not valid UTF-8`);
  }
}

/** A name that went away or stopped being a link between two looks: the release changed. */
function vanishing<T>(look: () => T, shown: string): T {
  try {
    return look();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EINVAL' || code === 'ENOTDIR') throw changed(shown);
    throw err;
  }
}

function changed(shown: string) {
  return sourceRefusal(`${JSON.stringify(shown)} changed while the image was being built`);
}
