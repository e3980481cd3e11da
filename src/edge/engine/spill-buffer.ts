import { unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/**
 * The folder spill files go to: private to berth (0700, made exclusively
 * with an unpredictable name, see makePrivateDir), so nobody else can
 * create, watch or replace anything in it. Made on first need.
 */
export type SpillDir = () => Promise<string>;

/** Bytes queued for the disk beyond which a producer is asked to pause. */
const MAX_UNFLUSHED = 4 * 1024 * 1024;

/** Where a reader is in a SpillBuffer. */
export interface SpillCursor {
  memoryIndex: number;
  filePosition: number;
}

/**
 * Bytes kept in memory up to a threshold and in an unlinked temp file past
 * it, as nginx buffers bodies for gunicorn: the producer (a fast upstream, a
 * client upload) is never held back by the consumer, and memory stays
 * bounded however large the body. The file is unlinked as soon as it is
 * created, so nothing is left on disk even if the process dies.
 *
 * Two ways to read: `take()` consumes in order and frees memory as it goes
 * (a response spooled for a slow client); `read(cursor)` reads from any
 * cursor and keeps the bytes (a request body that may be replayed).
 */
export class SpillBuffer {
  readonly #memoryLimit: number;
  readonly #dir: SpillDir;
  #chunks: Buffer[] = [];
  #memoryBytes = 0;
  #spilling = false;
  #file: Promise<FileHandle> | null = null;
  #fileBytes = 0;
  #written: Promise<void> = Promise.resolve();
  #failure: Error | null = null;
  #unflushed = 0;
  #size = 0;
  readonly #fifo: SpillCursor = { memoryIndex: 0, filePosition: 0 };

  constructor(memoryLimit: number, dir: SpillDir) {
    this.#memoryLimit = memoryLimit;
    this.#dir = dir;
  }

  /** Every byte appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Bytes `take()` has not returned yet. */
  get pending(): number {
    return this.#memoryBytes + this.#fileBytes - this.#fifo.filePosition;
  }

  get spilled(): boolean {
    return this.#spilling;
  }

  /**
   * Adds bytes at the end. Returns false when the disk is behind by more than
   * MAX_UNFLUSHED: the producer should pause until `flushed()` resolves, or
   * the queue of pending writes becomes the unbounded memory we avoid.
   * The chunk is kept, not copied: callers hand over buffers they never reuse.
   */
  append(chunk: Buffer): boolean {
    this.#size += chunk.length;
    if (!this.#spilling && this.#memoryBytes + chunk.length <= this.#memoryLimit) {
      this.#chunks.push(chunk);
      this.#memoryBytes += chunk.length;
      return true;
    }
    // From the first byte that does not fit, everything goes to the file, so
    // the order is: all of memory, then all of the file.
    this.#spilling = true;
    const position = this.#fileBytes;
    this.#fileBytes += chunk.length;
    this.#unflushed += chunk.length;
    this.#written = this.#written.then(async () => {
      try {
        if (this.#failure) return;
        const file = await this.#openFile();
        let done = 0;
        while (done < chunk.length) done += (await file.write(chunk, done, chunk.length - done, position + done)).bytesWritten;
      } catch (err) {
        this.#failure = err as Error;
      } finally {
        this.#unflushed -= chunk.length;
      }
    });
    return this.#unflushed <= MAX_UNFLUSHED;
  }

  /** Resolves once every appended byte is in memory or on disk; rejects if the disk failed. */
  async flushed(): Promise<void> {
    await this.#written;
    if (this.#failure) throw this.#failure;
  }

  #openFile(): Promise<FileHandle> {
    this.#file ??= (async () => {
      const path = join(await this.#dir(), `spill-${randomBytes(8).toString('hex')}`);
      // 'wx+': created here, never an existing file or a link.
      const file = await open(path, 'wx+', 0o600);
      unlinkSync(path);
      return file;
    })();
    return this.#file;
  }

  /** A cursor at the first byte. */
  static start(): SpillCursor {
    return { memoryIndex: 0, filePosition: 0 };
  }

  /** The next piece after `cursor` (advancing it), or null at the end of what was appended. */
  async read(cursor: SpillCursor, maxBytes = 256 * 1024): Promise<Buffer | null> {
    if (cursor.memoryIndex < this.#chunks.length) return this.#chunks[cursor.memoryIndex++]!;
    if (cursor.filePosition >= this.#fileBytes) return null;
    await this.flushed();
    const length = Math.min(maxBytes, this.#fileBytes - cursor.filePosition);
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await (await this.#file!).read(buf, 0, length, cursor.filePosition);
    if (bytesRead === 0) throw new Error('spill file is shorter than what was written to it');
    cursor.filePosition += bytesRead;
    return bytesRead === length ? buf : buf.subarray(0, bytesRead);
  }

  /** Like read() in FIFO order, releasing memory as it goes. */
  async take(maxBytes = 256 * 1024): Promise<Buffer | null> {
    if (this.#chunks.length > 0) {
      const chunk = this.#chunks.shift()!;
      this.#memoryBytes -= chunk.length;
      return chunk;
    }
    return this.read(this.#fifo, maxBytes);
  }

  /** Drops the memory and closes the file. Safe to call more than once. */
  async dispose(): Promise<void> {
    this.#chunks = [];
    this.#memoryBytes = 0;
    const file = this.#file;
    this.#file = null;
    if (file) {
      await this.#written.catch(() => {});
      const handle = await file.catch(() => null);
      await handle?.close().catch(() => {});
    }
  }
}
