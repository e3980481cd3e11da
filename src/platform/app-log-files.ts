import { chmod, mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLine } from './app-log-query.ts';
import { CURRENT_LOG, decideRotation, rotatedAt, rotatedName, type LogRotationLimits, type RotatedFile } from './app-log-rotation.ts';

// The files of one app's log: `app.log` being appended to and the rotated
// files beside it, one JSON object per line. The I/O only; what to rotate and
// delete is decided by decideRotation().

const NEWLINE = 0x0a;
const READ_CHUNK = 64 * 1024;
/** A line longer than this is not one berth wrote; reading backwards skips it. */
const MAX_STORED_LINE = 1024 * 1024;

/** One line as stored: `{"at":"2026-01-02T03:04:05.678Z","source":"web.1","text":"…"}` and a newline. */
export function encodeLine(line: LogLine): string {
  return `${JSON.stringify({ at: new Date(line.at).toISOString(), source: line.source, text: line.text })}\n`;
}

/** A stored line back; null for anything else (a line torn by a crash, a stray edit). */
export function decodeLine(text: string): LogLine | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const { at, source, text: lineText } = value as Record<string, unknown>;
  if (typeof at !== 'string' || typeof source !== 'string' || typeof lineText !== 'string') return null;
  const time = Date.parse(at);
  return Number.isFinite(time) ? { at: time, source, text: lineText } : null;
}

/** The complete lines of a file's first `end` bytes, last first, read in chunks from the end. */
export async function* linesBackward(handle: FileHandle, end: number): AsyncGenerator<string> {
  let position = end;
  let carry: Buffer = Buffer.alloc(0);
  // True while inside a line longer than MAX_STORED_LINE, until its start.
  let skipping = false;
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  while (position > 0) {
    const size = Math.min(READ_CHUNK, position);
    position -= size;
    const { bytesRead } = await handle.read(chunk, 0, size, position);
    if (bytesRead < size) return; // the file shrank under us: it is not ours to read
    const data = carry.length === 0 ? chunk.subarray(0, size) : Buffer.concat([chunk.subarray(0, size), carry]);
    let lineEnd = data.length;
    for (let i = data.length - 1; i >= 0; i--) {
      if (data[i] !== NEWLINE) continue;
      if (!skipping && lineEnd > i + 1) yield data.toString('utf8', i + 1, lineEnd);
      skipping = false;
      lineEnd = i;
    }
    carry = Buffer.from(data.subarray(0, lineEnd));
    if (carry.length > MAX_STORED_LINE) {
      carry = Buffer.alloc(0);
      skipping = true;
    }
  }
  if (!skipping && carry.length > 0) yield carry.toString('utf8');
}

/** The first complete line of a file, if it starts with one within the first chunk. */
async function firstLine(handle: FileHandle, size: number): Promise<string | null> {
  const head = Buffer.alloc(Math.min(READ_CHUNK, size));
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  const newline = head.subarray(0, bytesRead).indexOf(NEWLINE);
  return newline === -1 ? null : head.toString('utf8', 0, newline);
}

/** The newest decodable line within the last chunks of a file. */
async function lastLine(handle: FileHandle, size: number, decode: (text: string) => LogLine | null): Promise<LogLine | null> {
  let tries = 0;
  for await (const text of linesBackward(handle, size)) {
    const line = decode(text);
    if (line !== null || ++tries >= 16) return line;
  }
  return null;
}

/** No such file, or a folder on its path is not one: either way there is nothing to read. */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** What a reader of the log sees, fixed at one instant: see `LogFiles.openForReading`. */
export interface LogFilesView<T> {
  readonly captured: T;
  /** The current file, opened, and the length of it that holds written lines; null if there is none. */
  readonly current: { readonly handle: FileHandle; readonly end: number } | null;
  /** The rotated files, newest first, to open in turn (one may be gone by then: the history ends there). */
  readonly rotated: readonly RotatedFile[];
  readonly dir: string;
}

/**
 * The files of one app's log. Appends go to `app.log` (mode 0600, in a
 * 0700 folder). Rotation and the deletion of expired files happen in turns
 * that also admit readers one at a time, so a reader fixes its view (which
 * file is current and how much of it is written) without a rotation moving
 * the file under it; appends go on meanwhile, past the reader's end.
 */
export class LogFiles {
  readonly #dir: string;
  readonly #name: string;
  readonly #decode: (text: string) => LogLine | null;
  readonly #limits: LogRotationLimits;
  readonly #now: () => number;
  #handle: FileHandle | null = null;
  #currentBytes = 0;
  #currentSince: number | null = null;
  #newestAt: number | null = null;
  #rotated: RotatedFile[] = [];
  #turn: Promise<unknown> = Promise.resolve();

  /** `name`: the current file's (default `app.log`); `decode`: how a stored line is read (default decodeLine). */
  constructor(options: { dir: string; limits: LogRotationLimits; now: () => number; name?: string; decode?: (text: string) => LogLine | null }) {
    this.#dir = options.dir;
    this.#name = options.name ?? CURRENT_LOG;
    this.#decode = options.decode ?? decodeLine;
    this.#limits = options.limits;
    this.#now = options.now;
  }

  get isOpen(): boolean {
    return this.#handle !== null;
  }

  get currentPath(): string {
    return join(this.#dir, this.#name);
  }

  /** Creates the folder and opens the current file; learns the rotated files and where the current one stands. */
  async open(): Promise<void> {
    if (this.#handle !== null) return;
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await chmod(this.#dir, 0o700);
    const handle = await open(this.currentPath, 'a+', 0o600);
    try {
      await handle.chmod(0o600);
      let { size } = await handle.stat();
      this.#currentSince = null;
      this.#newestAt = null;
      if (size > 0) {
        const head = await firstLine(handle, size);
        this.#currentSince = (head === null ? null : this.#decode(head)?.at) ?? this.#now();
        this.#newestAt = (await lastLine(handle, size, this.#decode))?.at ?? this.#now();
        // A crash can leave the last line torn: end it, so the next line starts clean.
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== NEWLINE) {
          await handle.write('\n');
          size += 1;
        }
      }
      this.#currentBytes = size;
      this.#rotated = [];
      for (const name of await readdir(this.#dir)) {
        const closedAt = rotatedAt(name, this.#name);
        if (closedAt !== null) this.#rotated.push({ name, closedAt });
      }
      this.#handle = handle;
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  /** Runs `work` when no rotation or other reader is in its turn. */
  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work);
    this.#turn = run.catch(() => {});
    return run;
  }

  /**
   * Rotates the current file and deletes expired ones if decideRotation()
   * says so, before `incomingBytes` are appended (0: a check alone). Only
   * the writer calls this, never during an append.
   */
  maintain(incomingBytes: number): Promise<void> {
    return this.#inTurn(async () => {
      const decision = decideRotation(
        { currentBytes: this.#currentBytes, currentSince: this.#currentSince, incomingBytes, rotated: this.#rotated, now: this.#now() },
        this.#limits,
      );
      if (decision.rotate && this.#handle !== null) {
        const target = rotatedName(this.#newestAt ?? this.#now(), this.#rotated, this.#name);
        // Rename first: if that fails nothing has changed; the old handle follows the renamed file.
        await rename(this.currentPath, join(this.#dir, target.name));
        this.#rotated.push(target);
        const old = this.#handle;
        this.#handle = null;
        this.#currentBytes = 0;
        this.#currentSince = null;
        this.#newestAt = null;
        await old.close().catch(() => {});
        this.#handle = await open(this.currentPath, 'a', 0o600);
      }
      for (const name of decision.remove) {
        await rm(join(this.#dir, name), { force: true });
        this.#rotated = this.#rotated.filter((file) => file.name !== name);
      }
    });
  }

  /**
   * Appends whole lines. `written` runs in the same instant that the bytes
   * count as written, so a reader never sees a line both in the file and in
   * the caller's memory.
   */
  async append(data: Buffer, firstAt: number, lastAt: number, written: () => void): Promise<void> {
    const handle = this.#handle;
    if (handle === null) throw new Error(`${this.currentPath} is not open`);
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
      offset += bytesWritten;
    }
    this.#currentBytes += data.length;
    this.#currentSince ??= firstAt;
    this.#newestAt = lastAt;
    written();
  }

  /**
   * A fixed view for a reader: `capture` runs in the same instant as the
   * current file's written length is read (so the caller can take the lines
   * it holds that are not written yet), and the current file is opened
   * before any rotation may move it. Close `current.handle` when done.
   */
  openForReading<T>(capture: () => T): Promise<LogFilesView<T>> {
    return this.#inTurn(async () => {
      const captured = capture();
      const end = this.#currentBytes;
      const rotated = [...this.#rotated].sort((a, b) => b.closedAt - a.closedAt);
      let current: LogFilesView<T>['current'] = null;
      try {
        current = { handle: await open(this.currentPath, 'r'), end };
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
      return { captured, current, rotated, dir: this.#dir };
    });
  }

  async close(): Promise<void> {
    await this.#turn;
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }
}

/** Opens a rotated file for reading; null when it has been deleted meanwhile. */
export async function openRotated(dir: string, file: RotatedFile): Promise<FileHandle | null> {
  try {
    return await open(join(dir, file.name), 'r');
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

/** A rotated file's length, for reading it whole from its end. */
export async function sizeOf(handle: FileHandle): Promise<number> {
  return (await handle.stat()).size;
}
