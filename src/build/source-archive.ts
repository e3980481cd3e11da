import { constants } from 'node:fs';
import { chmod, lstat, lutimes, mkdir, open, readdir, readlink, rm, stat, symlink, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable, pipeline as pipeStreams } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { BerthError } from '../errors.ts';
import { ALWAYS_EXCLUDED, IgnoreRules } from './source-archive-ignore.ts';
import { entrySegments, resolveLinkInside } from './source-archive-paths.ts';
import { END_OF_ARCHIVE, encodeHeader, padding, readTar, type TarEntryHeader } from './source-archive-tar.ts';

/**
 * An app's source on its way to the daemon: `berth deploy` packs the folder
 * into a gzipped tarball, the daemon unpacks the upload into a new build
 * directory. The two sides are strict in the same way, so anything the packer
 * would never write is something the unpacker refuses.
 */

export interface PackedSource {
  /** The gzipped tarball; it reads the files as it is consumed. */
  readonly stream: Readable;
  /** Files and links in the archive (folders not counted). */
  readonly files: number;
  /** Bytes of file content, before compression. */
  readonly bytes: number;
}

export interface UnpackLimits {
  /** Most bytes of upload (gzip) accepted. */
  readonly maxCompressedBytes: number;
  /** Most bytes of tar data the upload may decompress to, headers and padding included. */
  readonly maxUnpackedBytes: number;
  /** Most files, folders and links. */
  readonly maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = {
  maxCompressedBytes: 512 * 1024 * 1024,
  maxUnpackedBytes: 2 * 1024 * 1024 * 1024,
  maxEntries: 100_000,
};

export interface UnpackedSource {
  /** Files and links written (folders not counted). */
  readonly files: number;
  /** Bytes of file content written. */
  readonly bytes: number;
}

// ------------------------------------------------------------------ packing

interface SourceEntry extends TarEntryHeader {
  readonly kind: 'file' | 'directory' | 'symlink';
}

/**
 * Packs an app folder for upload. Left out: `.git/` and `node_modules/` at
 * any depth (the build installs dependencies), and whatever `.gitignore` files
 * (root and nested) and the root `.berthignore` exclude; see IgnoreRules.
 *
 * Paths are relative, ownership is normalised (uid/gid 0, no names), modes
 * become 0644 or 0755 (the executable bit is kept), mtimes are kept (to the
 * second) because builds may compare them. Links are never followed: a link
 * that resolves inside the folder is stored as a link, any other is refused
 * with its name (BERTH_E_SOURCE_FILE), as are sockets, FIFOs and devices. A
 * folder with no files after all that is BERTH_E_NOTHING_TO_DEPLOY.
 *
 * The folder is listed and checked first, so every refusal comes before the
 * first byte is uploaded; file contents are read as the stream is consumed.
 */
export async function packSource(dir: string): Promise<PackedSource> {
  const root = resolve(dir);
  try {
    if (!(await stat(root)).isDirectory()) throw new Error('not a folder');
  } catch (err) {
    throw new BerthError('BERTH_E_APP_DIR', `${dir} is not a folder`, { cause: err, hint: 'give `berth deploy` the app folder' });
  }
  const entries = await listSource(root);
  const contents = entries.filter((entry) => entry.kind !== 'directory');
  if (contents.length === 0) {
    throw new BerthError('BERTH_E_NOTHING_TO_DEPLOY', `nothing to deploy in ${dir}`, {
      hint: 'the folder has no files once .gitignore, .berthignore, .git/ and node_modules/ are left out; deploy the app folder, or loosen those ignore files',
    });
  }
  const gzip = createGzip();
  // pipeline hands a read error (a file that changed) on to the gzip stream, and
  // a consumer destroying the stream closes the open file.
  pipeStreams(Readable.from(tarStream(root, entries), { objectMode: false }), gzip, () => {});
  return { stream: gzip, files: contents.length, bytes: contents.reduce((sum, entry) => sum + entry.size, 0) };
}

async function listSource(root: string): Promise<SourceEntry[]> {
  const rules = await IgnoreRules.load(root);
  const entries: SourceEntry[] = [];
  const walk = async (dir: string[]): Promise<void> => {
    await rules.enter(dir);
    const names = (await readdir(join(root, ...dir))).sort();
    for (const name of names) {
      if (ALWAYS_EXCLUDED.has(name)) continue;
      const segments = [...dir, name];
      const path = segments.join('/');
      const stats = await lstat(join(root, path));
      if (rules.ignores(path, stats.isDirectory())) continue;
      const mtime = stats.mtimeMs / 1000;
      if (stats.isDirectory()) {
        entries.push({ path, kind: 'directory', mode: 0o755, mtime, size: 0 });
        await walk(segments);
      } else if (stats.isFile()) {
        entries.push({ path, kind: 'file', mode: stats.mode & 0o111 ? 0o755 : 0o644, mtime, size: stats.size });
      } else if (stats.isSymbolicLink()) {
        const linkpath = await readlink(join(root, path));
        const resolution = await resolveLinkInside(root, dir, linkpath);
        if (!resolution.inside) {
          throw new BerthError('BERTH_E_SOURCE_FILE', `the link ${path} in the app folder ${resolution.reason}`, {
            hint: 'make it a relative link to something inside the folder, replace it with a copy, or list it in .berthignore',
          });
        }
        entries.push({ path, kind: 'symlink', mode: 0o777, mtime, size: 0, linkpath });
      } else {
        throw new BerthError('BERTH_E_SOURCE_FILE', `the app folder holds ${specialKind(stats)} at ${path}; berth deploys only files, folders and links`, {
          hint: 'list it in .berthignore',
        });
      }
    }
  };
  await walk([]);
  return entries;
}

function specialKind(stats: { isSocket(): boolean; isFIFO(): boolean }): string {
  if (stats.isSocket()) return 'a socket';
  if (stats.isFIFO()) return 'a FIFO';
  return 'a device';
}

async function* tarStream(root: string, entries: readonly SourceEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield encodeHeader(entry);
    if (entry.kind !== 'file') continue;
    yield* fileContents(root, entry);
    yield padding(entry.size);
  }
  yield END_OF_ARCHIVE;
}

const READ_CHUNK = 64 * 1024;

/** Exactly the size that was listed, or an error: a header cannot be taken back once sent. */
async function* fileContents(root: string, entry: SourceEntry): AsyncGenerator<Buffer> {
  const changed = () =>
    new BerthError('BERTH_E_SOURCE_CHANGED', `${entry.path} changed while it was being packed`, { hint: 'deploy again once nothing is writing to it, or list it in .berthignore' });
  // O_NOFOLLOW: if the file was swapped for a link since the listing, it is not followed out.
  const handle = await open(join(root, entry.path), constants.O_RDONLY | constants.O_NOFOLLOW).catch((err) => {
    throw (err as NodeJS.ErrnoException).code === 'ELOOP' || (err as NodeJS.ErrnoException).code === 'ENOENT' ? changed() : err;
  });
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size !== entry.size) throw changed();
    let remaining = entry.size;
    while (remaining > 0) {
      const buffer = Buffer.allocUnsafe(Math.min(remaining, READ_CHUNK));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) throw changed();
      remaining -= bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------- unpacking

function refuse(message: string): BerthError {
  return new BerthError('BERTH_E_ARCHIVE', message, { status: 400, hint: 'upload with `berth deploy`, which never builds such an archive' });
}

/**
 * Unpacks an upload into `dest`, which must be a new, empty folder the caller
 * created (and that nobody else writes to while this runs).
 *
 * Refused with BERTH_E_ARCHIVE (400), naming the entry: data that is not a
 * gzipped tarball, or is truncated; absolute paths, `..` segments, NUL bytes,
 * backslashes and names that are not UTF-8; entries written through a link
 * (`a -> sub`, then `a/x`); links whose target is absolute or resolves outside
 * `dest`, checked again once everything is written, since a later link can
 * redirect an earlier one; hard links, devices, FIFOs and other entry types;
 * setuid, setgid and sticky bits; an entry appearing twice, or a file named
 * like a folder (`a/`), which tar tools read differently. Over a limit is
 * BERTH_E_ARCHIVE_TOO_LARGE (413): the limits count bytes as they arrive and
 * never trust sizes in headers. An upload with no files is
 * BERTH_E_NOTHING_TO_DEPLOY.
 *
 * Written files get mode 0644, or 0755 when any execute bit is set; folders
 * 0755; ownership is never applied (everything belongs to this process);
 * mtimes are kept.
 *
 * On any failure everything written into `dest` is removed before this
 * rejects, so the caller keeps an empty folder, never a half-unpacked one. The
 * input stream is not destroyed: an HTTP handler can still answer 400 or 413,
 * then drain or close the request.
 */
export async function unpackSource(input: Readable, dest: string, limits: Partial<UnpackLimits> = {}): Promise<UnpackedSource> {
  const limit = { ...DEFAULT_UNPACK_LIMITS, ...limits };
  const root = resolve(dest);
  await requireEmptyFolder(root);
  const result = { files: 0, bytes: 0 };
  let extraction: Promise<void> | undefined;
  try {
    await pipeline(compressedBytes(input, limit.maxCompressedBytes), createGunzip(), (tar: AsyncIterable<Buffer>) => {
      extraction = extract(tar, root, limit, result);
      return extraction;
    });
    if (result.files === 0) {
      throw new BerthError('BERTH_E_NOTHING_TO_DEPLOY', 'nothing to deploy: the upload holds no files', { hint: 'deploy a folder that has files once ignored ones are left out' });
    }
    return result;
  } catch (err) {
    // No write may still be in flight when the folder is emptied.
    await extraction?.catch(() => {});
    await emptyFolder(root);
    throw archiveError(err);
  }
}

async function requireEmptyFolder(root: string): Promise<void> {
  // A programming error, not a bad upload: dest is never emptied in this case.
  const names = await readdir(root);
  if (names.length > 0) throw new Error(`unpackSource needs a new, empty folder; ${root} is not empty`);
}

async function emptyFolder(root: string): Promise<void> {
  // rm never follows links, so a link pointing outside is removed, not its target.
  for (const name of await readdir(root)) await rm(join(root, name), { recursive: true, force: true });
}

async function* compressedBytes(input: Readable, max: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of input.iterator({ destroyOnReturn: false })) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    total += bytes.length;
    if (total > max) {
      throw new BerthError('BERTH_E_ARCHIVE_TOO_LARGE', `the upload is larger than ${max} bytes`, { status: 413, hint: 'leave build output and large files out with .berthignore' });
    }
    yield bytes;
  }
}

/** zlib's errors, said in terms of the upload. */
function archiveError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !code.startsWith('Z_')) return err;
  const message = (err as Error).message;
  if (message.includes('incorrect header check')) return refuse('the upload is not gzip data (a .tar.gz from `berth deploy` is expected)');
  if (code === 'Z_BUF_ERROR' || message.includes('unexpected end of file')) return refuse('the upload is truncated: its gzip data ends early');
  return refuse(`the upload's gzip data is corrupt (${message})`);
}

const SPECIAL_MODE_BITS = 0o7000;
/** fs errors that mean the entry's name or place cannot exist, rather than a server problem. */
const ENTRY_FS_ERRORS = new Set(['ENAMETOOLONG', 'ENOTDIR', 'EISDIR', 'ELOOP', 'EINVAL', 'EILSEQ']);

async function extract(tar: AsyncIterable<Buffer>, root: string, limits: UnpackLimits, result: { files: number; bytes: number }): Promise<void> {
  // Folders known to be real folders (not links) under root; '' is root itself.
  const folders = new Set<string>(['']);
  const links: string[][] = [];
  const folderTimes: Array<{ path: string; mtime: number }> = [];

  for await (const entry of readTar(tar, { maxBytes: limits.maxUnpackedBytes, maxEntries: limits.maxEntries })) {
    const label = JSON.stringify(entry.path);
    const checked = entrySegments(entry.path);
    if ('refused' in checked) throw refuse(`entry ${label} ${checked.refused}`);
    const segments = checked.segments;
    // Old tars wrote folders as files named `dir/`; tools disagree on that, so it is refused.
    if (entry.kind !== 'directory' && entry.path.endsWith('/')) throw refuse(`entry ${label} is a ${entry.kind} with a folder's name`);
    if (segments.length === 0) {
      if (entry.kind === 'directory') continue; // `./`: the folder itself
      throw refuse(`entry ${label} names no file`);
    }
    if (entry.mode & SPECIAL_MODE_BITS) throw refuse(`entry ${label} has mode ${entry.mode.toString(8)}: setuid, setgid and sticky bits are not accepted`);
    const path = join(root, ...segments);
    try {
      await makeFolders(root, segments.slice(0, -1), folders, label);
      if (entry.kind === 'directory') {
        await makeFolder(root, segments, folders, label, true);
        folderTimes.push({ path, mtime: entry.mtime });
      } else if (entry.kind === 'file') {
        result.bytes += await writeFile(path, entry, label);
        result.files++;
      } else {
        const resolution = await resolveLinkInside(root, segments.slice(0, -1), entry.linkpath!);
        if (!resolution.inside) throw refuse(`entry ${label} is a link that ${resolution.reason}`);
        await symlink(entry.linkpath!, path).catch((err) => {
          throw (err as NodeJS.ErrnoException).code === 'EEXIST' ? refuse(`entry ${label} appears twice in the upload`) : err;
        });
        await lutimes(path, entry.mtime, entry.mtime);
        links.push(segments);
        result.files++;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && ENTRY_FS_ERRORS.has(code)) throw refuse(`entry ${label} cannot be written (${code})`);
      throw err;
    }
  }

  // A link written later can change where an earlier one leads (`m -> l/..`,
  // then `l -> .`), so every link is judged again on the finished tree.
  for (const segments of links) {
    const target = await readlink(join(root, ...segments));
    const resolution = await resolveLinkInside(root, segments.slice(0, -1), target);
    if (!resolution.inside) throw refuse(`entry ${JSON.stringify(segments.join('/'))} is a link that ${resolution.reason}`);
  }
  // Deepest first: setting a folder's time is undone by writing into it.
  for (const { path, mtime } of folderTimes.reverse()) await utimes(path, mtime, mtime);
}

/** Makes (or checks) each folder on the way to an entry; never through a link or a file. */
async function makeFolders(root: string, segments: readonly string[], folders: Set<string>, label: string): Promise<void> {
  for (let i = 1; i <= segments.length; i++) await makeFolder(root, segments.slice(0, i), folders, label, false);
}

async function makeFolder(root: string, segments: readonly string[], folders: Set<string>, label: string, isEntry: boolean): Promise<void> {
  const key = segments.join('/');
  if (folders.has(key)) return;
  const path = join(root, ...segments);
  try {
    await mkdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // lstat, not stat: what is already there must be a folder itself, not a link to one.
    const existing = await lstat(path);
    const what = existing.isSymbolicLink() ? 'link' : existing.isDirectory() ? null : 'file';
    if (what !== null) {
      throw refuse(isEntry ? `entry ${label} would replace the ${what} written before it` : `entry ${label} would be written through the ${what} ${JSON.stringify(key)}`);
    }
  }
  await chmod(path, 0o755);
  folders.add(key);
}

async function writeFile(path: string, entry: { mode: number; mtime: number; body(): AsyncGenerator<Buffer> }, label: string): Promise<number> {
  const mode = entry.mode & 0o111 ? 0o755 : 0o644;
  // O_EXCL: never replace or write through what is there (an earlier entry, a link).
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode).catch((err) => {
    throw (err as NodeJS.ErrnoException).code === 'EEXIST' ? refuse(`entry ${label} appears twice in the upload`) : err;
  });
  let written = 0;
  try {
    for await (const chunk of entry.body()) {
      for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
      written += chunk.length;
    }
    // The umask must not decide what the build sees.
    await handle.chmod(mode);
    await handle.utimes(entry.mtime, entry.mtime);
  } finally {
    await handle.close();
  }
  return written;
}
