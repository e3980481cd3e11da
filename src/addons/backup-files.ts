import { createHash, type Hash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { BerthError } from '../errors.ts';

// The on-disk form of a backup, whatever the add-on kind: the raw dump
// gzipped, its sha256 (of the compressed bytes, so a file can be checked
// without unpacking it) recorded by the caller. A file only ever appears
// under its final name whole and fsynced: it is written as NAME.partial and
// renamed, so a backup killed halfway leaves a .partial (swept at start by
// removePartials) and never a file that looks good.

const PARTIAL = '.partial';
const FILE_MODE = 0o600;

/** What a sealed backup file is: its size and the sha256 (hex) of its bytes. */
export interface SealedBackup {
  readonly bytes: number;
  readonly sha256: string;
}

/** Counts and hashes what flows through it, passing it on unchanged. */
class Tally extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/**
 * A write stream into an open file that leaves the file open for the caller
 * to fsync and close, on success and on error alike. (fs write streams over
 * a descriptor close it when destroyed, whatever autoClose says, and a
 * FileHandle's own stream with autoClose: false makes close() wait forever.)
 */
export function writerTo(handle: FileHandle): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      (async () => {
        for (let done = 0; done < chunk.length; ) done += (await handle.write(chunk, done, chunk.length - done)).bytesWritten;
      })().then(() => callback(), callback);
    },
  });
}

/** The bytes of an open file from its start, as a stream source; the file stays open (see writerTo). */
export async function* chunksOf(handle: FileHandle, chunkSize = 256 * 1024): AsyncGenerator<Buffer> {
  for (let position = 0; ; ) {
    const buffer = Buffer.allocUnsafe(chunkSize);
    const { bytesRead } = await handle.read(buffer, 0, chunkSize, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Never created, or already gone: the error that brought us here matters more.
  }
}

/**
 * Writes `produce`'s output to `finalPath` the atomic way: into
 * finalPath.partial (created here, never reused), fsync, rename, fsync the
 * folder. On any failure the partial file is removed and the error rethrown.
 */
async function writeAtomically(finalPath: string, produce: (out: NodeJS.WritableStream) => Promise<void>): Promise<void> {
  const partial = finalPath + PARTIAL;
  // 'wx': a partial file that exists belongs to someone else (or to a crash
  // that removePartials has not swept yet); it is neither reused nor removed.
  const handle = await open(partial, 'wx', FILE_MODE);
  try {
    try {
      await produce(writerTo(handle));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, finalPath);
  } catch (err) {
    await removeQuietly(partial);
    throw err;
  }
  await fsyncDirectory(dirname(finalPath));
}

/**
 * Compresses the raw dump `rawFile` into the backup file `finalPath` and
 * returns its size and checksum, both of the compressed bytes as written.
 * A dump its tool already compressed (pg_dump's custom format) is wrapped at
 * gzip level 1: the format stays one, and a second full compression would
 * cost CPU for nothing (bench/backups.ts).
 */
export async function sealBackup(rawFile: string, finalPath: string, options: { alreadyCompressed?: boolean } = {}): Promise<SealedBackup> {
  const tally = new Tally();
  const gzip = createGzip({ level: options.alreadyCompressed ? 1 : 6 });
  await writeAtomically(finalPath, (out) => pipeline(createReadStream(rawFile), gzip, tally, out));
  return { bytes: tally.bytes, sha256: tally.hash.digest('hex') };
}

function corrupt(path: string, what: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_E_BACKUP_CORRUPT', `the backup file ${path} ${what}`, {
    status: 500,
    hint: 'The file was changed, cut short or damaged after it was written. Restore another backup (berth backups list), or its copy in the second backup folder if there is one.',
    cause,
  });
}

/** Reads a whole file through a tally; a missing file is BERTH_E_BACKUP_CORRUPT. */
async function tallyOf(path: string): Promise<SealedBackup> {
  const tally = new Tally();
  try {
    await pipeline(createReadStream(path), tally, async (source: AsyncIterable<Buffer>) => {
      for await (const _ of source);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt(path, 'is missing', err);
    throw err;
  }
  return { bytes: tally.bytes, sha256: tally.hash.digest('hex') };
}

/**
 * Checks the backup file `finalPath` against what was recorded when it was
 * sealed (its sha256 and, when known, its size), then unpacks it into
 * `rawOut` (mode 0600, replaced if it exists). Any mismatch, and a file that
 * does not unpack, is BERTH_E_BACKUP_CORRUPT saying which; `rawOut` is
 * removed then, so nothing half-unpacked is left to restore from.
 */
export async function openBackup(finalPath: string, sha256: string, rawOut: string, bytes?: number): Promise<void> {
  const found = await tallyOf(finalPath);
  if (bytes !== undefined && found.bytes !== bytes) {
    throw corrupt(finalPath, `has ${found.bytes} bytes, but ${bytes} were written`);
  }
  if (found.sha256 !== sha256.toLowerCase()) {
    throw corrupt(finalPath, `has the checksum sha256:${found.sha256}, not the recorded sha256:${sha256}`);
  }
  // Hashed again while unpacking: the bytes unpacked must be the ones just checked.
  const tally = new Tally();
  const out = await open(rawOut, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, FILE_MODE);
  try {
    try {
      await pipeline(createReadStream(finalPath), tally, createGunzip(), writerTo(out));
    } finally {
      await out.close();
    }
  } catch (err) {
    await removeQuietly(rawOut);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt(finalPath, 'is missing', err);
    // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR for a file cut short) say the gzip stream is broken.
    if (String((err as NodeJS.ErrnoException).code).startsWith('Z_')) {
      throw corrupt(finalPath, `cannot be unpacked: ${(err as Error).message}`, err);
    }
    throw err;
  }
  if (tally.hash.digest('hex') !== found.sha256) {
    await removeQuietly(rawOut);
    throw corrupt(finalPath, 'changed while it was being unpacked');
  }
}

/**
 * Copies the backup file into `toDir` (the second backup folder) under the
 * same name, atomically, and returns the copy's path. The copy is read back
 * after it is written and must have the source's checksum; when `sha256` is
 * given, the source must have that one too (a damaged source is not copied).
 */
export async function copyBackup(finalPath: string, toDir: string, sha256?: string): Promise<string> {
  const target = join(toDir, basename(finalPath));
  const source = new Tally();
  try {
    await writeAtomically(target, async (out) => {
      await pipeline(createReadStream(finalPath), source, out);
      const read = source.hash.digest('hex');
      if (sha256 !== undefined && read !== sha256.toLowerCase()) {
        throw corrupt(finalPath, `has the checksum sha256:${read}, not the recorded sha256:${sha256}; it was not copied`);
      }
      // Read back before the rename: a copy that differs never gets the final name.
      const copy = await tallyOf(target + PARTIAL);
      if (copy.sha256 !== read) {
        throw new BerthError('BERTH_E_BACKUP_FAILED', `the copy of ${finalPath} in ${toDir} does not read back the same (sha256:${copy.sha256})`, {
          status: 500,
          hint: `Check the disk holding ${toDir}.`,
        });
      }
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).path === finalPath) throw corrupt(finalPath, 'is missing', err);
    throw err;
  }
  return target;
}

/**
 * Deletes the `*.partial` files left in `dir` by a process killed while it
 * wrote a backup, and returns their paths. Call it before any backup of this
 * folder starts (at daemon start): a partial file is never finished later.
 */
export async function removePartials(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.name.endsWith(PARTIAL) || entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    try {
      await unlink(path);
      removed.push(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed.sort();
}

export interface BackupNameInfo {
  readonly id: number;
  readonly app: string;
  readonly kind: string;
  /** ISO 8601 time the backup started. */
  readonly startedAt: string;
  /** The raw dump's suffix (the provider's dumpSuffix): "pgdump", "rdb", "sqlite". */
  readonly suffix: string;
}

const NAME_PART = /^[a-z][a-z0-9-]{0,62}$/;
const SUFFIX = /^[a-z0-9]{1,16}$/;

/**
 * The file name of a backup: `myapp-postgres-20261121T170000Z-12.pgdump.gz`.
 * Only [a-z0-9.TZ-]: safe in any shell, URL or file system, sorted by time
 * within one app and kind, and unique by its id.
 */
export function backupFileName(info: BackupNameInfo): string {
  const bad = (what: string, value: unknown): never => {
    throw new BerthError('BERTH_E_USAGE', `a backup file name cannot be made from the ${what} ${JSON.stringify(value)}`, { status: 500 });
  };
  if (!Number.isSafeInteger(info.id) || info.id < 1) bad('id', info.id);
  if (!NAME_PART.test(info.app)) bad('app', info.app);
  if (!NAME_PART.test(info.kind)) bad('kind', info.kind);
  if (!SUFFIX.test(info.suffix)) bad('suffix', info.suffix);
  const time = Date.parse(info.startedAt);
  if (Number.isNaN(time)) bad('start time', info.startedAt);
  const stamp = new Date(time).toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  return `${info.app}-${info.kind}-${stamp}-${info.id}.${info.suffix}.gz`;
}

/** The path a backup file has while it is being written. */
export function partialPathOf(finalPath: string): string {
  return finalPath + PARTIAL;
}
