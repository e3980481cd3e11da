import { execFile } from 'node:child_process';
import { closeSync, constants, openSync, watch, type FSWatcher } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { LineSplitter } from './line-splitter.ts';

// An instance's output goes into files, not into pipes the daemon holds:
// an instance must outlive the daemon (a control-plane restart, a crash),
// and a pipe whose reader is gone kills its writer (SIGPIPE, EPIPE) or,
// kept open elsewhere, stalls it once 64 KiB are buffered. A file opened
// for appending takes every write at once, whoever reads it and whenever.
// The daemon follows the file from an offset (inotify, with a slow poll as
// a safety net) and gives the disk back behind itself by punching holes
// into what it has read: the file's length keeps growing, its blocks do
// not. The next daemon carries on at the offset the last one recorded.

/** The two files of one instance. */
export interface OutputPaths {
  readonly out: string;
  readonly err: string;
}

/** Where the reading stopped in each file. */
export interface OutputOffsets {
  readonly out: number;
  readonly err: number;
}

/** Read bytes given back to the disk once this many have piled up behind the reader. */
const PUNCH_BYTES = 1024 * 1024;
/** A look at the files even without an inotify event. */
const POLL_MS = 1000;
const READ_BYTES = 64 * 1024;

/**
 * Makes the output files of a new instance in `dir` (root's own folder)
 * and opens them for the child: appending, write-only, never through a
 * link. The caller passes the descriptors as the child's stdout and stderr
 * and closes them once it has started.
 */
export function createOutputFiles(dir: string, name: string): { paths: OutputPaths; fds: readonly [number, number] } {
  const paths = { out: join(dir, `${name}.out`), err: join(dir, `${name}.err`) };
  // libuv opens every descriptor close-on-exec; spawn dup2s these onto the child's 1 and 2.
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const out = openSync(paths.out, flags, 0o600);
  try {
    const err = openSync(paths.err, flags, 0o600);
    return { paths, fds: [out, err] };
  } catch (error) {
    closeSync(out);
    throw error;
  }
}

/** Removes an instance's output files (once it has ended and they were read). */
export async function removeOutputFiles(paths: OutputPaths): Promise<void> {
  await Promise.all([unlink(paths.out).catch(() => {}), unlink(paths.err).catch(() => {})]);
}

/** Follows one output file from an offset, a line at a time. */
class FileFollower {
  readonly #path: string;
  readonly #lines: LineSplitter;
  readonly #decoder = new StringDecoder('utf8');
  #handle: FileHandle | null = null;
  #watcher: FSWatcher | null = null;
  #offset: number;
  #punched: number;
  #reading: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(path: string, offset: number, onLine: (line: string) => void) {
    this.#path = path;
    this.#offset = offset;
    // Everything before the offset was read by this daemon or the last one: give it back on the first occasion.
    this.#punched = 0;
    this.#lines = new LineSplitter(onLine);
  }

  get offset(): number {
    return this.#offset;
  }

  async open(): Promise<void> {
    // O_NOFOLLOW: the file is in root's folder, but never read through a link all the same.
    this.#handle = await open(this.#path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      this.#watcher = watch(this.#path, { persistent: false }, () => this.read());
      this.#watcher.on('error', () => {});
    } catch {
      // No inotify watch (limits reached): the poll alone follows the file.
    }
    this.read();
  }

  /** Reads what was written since the last read (coalesced: one read at a time, another after it if asked meanwhile). */
  read(): Promise<void> {
    if (this.#closed || this.#handle === null) return Promise.resolve();
    if (this.#reading !== null) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        await this.#drain();
      } while (this.#again && !this.#closed);
      this.#reading = null;
    })();
    return this.#reading;
  }

  async #drain(): Promise<void> {
    const handle = this.#handle;
    if (handle === null) return;
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, this.#offset));
      } catch {
        return;
      }
      if (bytesRead === 0 || this.#closed) break;
      this.#offset += bytesRead;
      this.#lines.push(this.#decoder.write(buffer.subarray(0, bytesRead)));
    }
    if (this.#offset - this.#punched >= PUNCH_BYTES) this.#punch();
  }

  #punch(): void {
    // Whole pages only, so the hole never reaches into bytes not yet read.
    const end = this.#offset - (this.#offset % 4096);
    if (end <= this.#punched) return;
    const from = this.#punched;
    this.#punched = end;
    // util-linux's fallocate: Node has no fallocate(2). A file system
    // without holes keeps the bytes, and the instance's next start gets a
    // new file anyway.
    execFile('fallocate', ['--punch-hole', '--offset', String(from), '--length', String(end - from), '--', this.#path], { timeout: 10_000 }, () => {});
  }

  /** Stops following (the file stays, for the next daemon). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = null;
    await this.#reading;
    await this.#handle?.close().catch(() => {});
    this.#handle = null;
  }

  /** Reads to the end, emits a last partial line, and stops. */
  async finish(): Promise<void> {
    await this.read();
    await this.#reading;
    this.#lines.push(this.#decoder.end());
    this.#lines.end();
    await this.close();
  }
}

/** An instance's two output files, followed. */
export class InstanceOutput {
  readonly paths: OutputPaths;
  readonly #out: FileFollower;
  readonly #err: FileFollower;
  #poll: NodeJS.Timeout | null = null;

  private constructor(paths: OutputPaths, offsets: OutputOffsets, onLine: (stream: 'out' | 'err', line: string) => void) {
    this.paths = paths;
    this.#out = new FileFollower(paths.out, offsets.out, (line) => onLine('out', line));
    this.#err = new FileFollower(paths.err, offsets.err, (line) => onLine('err', line));
  }

  /** Starts following both files from `offsets`. */
  static async follow(paths: OutputPaths, offsets: OutputOffsets, onLine: (stream: 'out' | 'err', line: string) => void): Promise<InstanceOutput> {
    const output = new InstanceOutput(paths, offsets, onLine);
    await output.#out.open();
    try {
      await output.#err.open();
    } catch (err) {
      await output.#out.close();
      throw err;
    }
    output.#poll = setInterval(() => {
      void output.#out.read();
      void output.#err.read();
    }, POLL_MS);
    output.#poll.unref();
    return output;
  }

  get offsets(): OutputOffsets {
    return { out: this.#out.offset, err: this.#err.offset };
  }

  /** Once the instance has ended: everything it wrote, then stop. */
  async finish(): Promise<void> {
    if (this.#poll) clearInterval(this.#poll);
    await Promise.all([this.#out.finish(), this.#err.finish()]);
  }

  /**
   * Stops following, leaving the files for the next daemon (which carries
   * on at `offsets`). A line without its end yet is emitted as it is: the
   * next daemon starts after it.
   */
  detach(): Promise<void> {
    return this.finish();
  }
}
