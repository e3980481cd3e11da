import { Header, Pax } from 'tar';
import { BerthError } from '../errors.ts';

/**
 * The tar format for app uploads, both ways.
 *
 * Writing uses node-tar's header and pax encoders. Reading is our own, and
 * deliberately small: it accepts ustar/GNU headers, pax and GNU long names,
 * and only files, folders and symbolic links; everything else is refused with
 * the entry's name. node-tar's Parser was not enough here: it decodes names
 * leniently (invalid UTF-8 becomes U+FFFD, a pax value is cut at a NUL, a
 * multi-byte character split across two chunks is mangled), and it skips
 * unknown entry types silently, where an upload must be refused.
 */

const BLOCK = 512;
/** pax and GNU long-name bodies above this are not names anyone needs. */
const MAX_META_BYTES = 1024 * 1024;
/** Metadata headers in a row before a real entry; writers use one or two. */
const MAX_META_CHAIN = 8;

export type TarEntryKind = 'file' | 'directory' | 'symlink';

export interface TarEntryHeader {
  readonly path: string;
  readonly kind: TarEntryKind;
  readonly mode: number;
  /** Seconds since the epoch, possibly fractional (pax). */
  readonly mtime: number;
  readonly size: number;
  readonly linkpath?: string | undefined;
}

// ---------------------------------------------------------------- writing

/** The header block(s) for one entry: a pax header first when names are long or not ASCII. */
export function encodeHeader(entry: TarEntryHeader): Buffer {
  const type = entry.kind === 'file' ? 'File' : entry.kind === 'directory' ? 'Directory' : 'SymbolicLink';
  const path = entry.kind === 'directory' ? `${entry.path}/` : entry.path;
  const mtime = new Date(Math.floor(entry.mtime) * 1000);
  // Ownership is normalised: uid/gid 0 and no user or group names.
  const header = new Header({ path, type, mode: entry.mode, uid: 0, gid: 0, uname: '', gname: '', size: entry.size, mtime, linkpath: entry.linkpath ?? '' });
  const block = Buffer.alloc(BLOCK);
  if (!header.encode(block, 0)) return block;
  const pax = new Pax({ path, linkpath: entry.linkpath, size: entry.size > 0o77777777777 ? entry.size : undefined });
  return Buffer.concat([pax.encode(), block]);
}

/** Zero bytes that round a body of `size` bytes up to whole blocks. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

// ---------------------------------------------------------------- reading

export interface TarReadLimits {
  /** Most bytes of tar data (headers and padding included) read before refusing. */
  readonly maxBytes: number;
  /** Most files, folders and links before refusing. */
  readonly maxEntries: number;
}

export interface TarEntry extends TarEntryHeader {
  /** The entry's data, streamed. Read it (or not) before asking for the next entry. */
  body(): AsyncGenerator<Buffer>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function refuse(message: string): BerthError {
  return new BerthError('BERTH_E_ARCHIVE', message, { status: 400, hint: 'upload with `berth deploy`, which never builds such an archive' });
}

/**
 * Reads entries from uncompressed tar data. Limits count the bytes that
 * actually arrive, never the sizes headers claim, and are checked before the
 * bytes are handed on.
 */
export async function* readTar(data: AsyncIterable<Buffer>, limits: TarReadLimits): AsyncGenerator<TarEntry> {
  const source = new ByteSource(data, limits.maxBytes);
  let entries = 0;
  let meta: { path?: string; linkpath?: string; size?: number; mtime?: number } = {};
  let metaChain = 0;
  for (let index = 1; ; index++) {
    source.label = entries === 0 && metaChain === 0 ? 'the start of the archive' : `the header after entry #${entries}`;
    const block = await source.read(BLOCK);
    if (block.length < BLOCK) throw refuse(`the upload is truncated: it ends at ${source.label}, without the end-of-archive marker`);
    if (isZero(block)) {
      await readEnd(source);
      return;
    }
    const header = parseHeader(block, index === 1);
    const where = `entry #${entries + 1}`;

    if (header.type === 'x' || header.type === 'g' || header.type === 'L' || header.type === 'K') {
      if (++metaChain > MAX_META_CHAIN) throw refuse(`${where} has more than ${MAX_META_CHAIN} metadata headers in a row`);
      if (header.size > MAX_META_BYTES) throw refuse(`${where} has a ${header.size}-byte metadata header; at most ${MAX_META_BYTES} are accepted`);
      const body = await source.read(header.size);
      if (body.length < header.size) throw refuse(`the upload is truncated inside the metadata of ${where}`);
      await source.skip(padding(header.size).length);
      if (header.type === 'x') {
        const { keys: _, ...fields } = parsePax(body, where);
        meta = { ...meta, ...fields };
      } else if (header.type === 'g') {
        checkGlobalPax(parsePax(body, where), where);
      } else if (header.type === 'L') {
        meta.path = decodeName(trimNul(body), where);
      } else {
        meta.linkpath = decodeName(trimNul(body), where);
      }
      continue;
    }

    const path = meta.path ?? header.path;
    const label = JSON.stringify(path);
    const kind = entryKind(header.type, label);
    if (++entries > limits.maxEntries) throw new BerthError('BERTH_E_ARCHIVE_TOO_LARGE', `the upload has more than ${limits.maxEntries} entries (at ${label})`, { status: 413, hint: 'leave generated files out with .berthignore' });
    const size = meta.size ?? header.size;
    const linkpath = meta.linkpath ?? (header.linkpath || undefined);
    if (kind !== 'file' && size !== 0) throw refuse(`entry ${label} is a ${kind} with ${size} bytes of data`);
    if (kind === 'symlink' && linkpath === undefined) throw refuse(`entry ${label} is a link without a target`);
    if (kind !== 'symlink' && linkpath !== undefined) throw refuse(`entry ${label} is a ${kind} with a link target`);
    if (size > limits.maxBytes) throw new BerthError('BERTH_E_ARCHIVE_TOO_LARGE', `entry ${label} claims ${size} bytes, more than the ${limits.maxBytes}-byte limit`, { status: 413, hint: 'leave large files out with .berthignore' });
    const mtime = meta.mtime ?? header.mtime;
    meta = {};
    metaChain = 0;
    source.label = `entry ${label}`;

    let remaining = size;
    let consumed = false;
    const body = async function* (): AsyncGenerator<Buffer> {
      consumed = true;
      while (remaining > 0) {
        const chunk = await source.readSome(remaining);
        if (chunk.length === 0) throw refuse(`the upload is truncated inside entry ${label} (${remaining} of ${size} bytes missing)`);
        remaining -= chunk.length;
        yield chunk;
      }
    };
    yield { path, kind, mode: header.mode, mtime, size, linkpath, body };
    // Whatever the consumer left unread is skipped, so the next header is found.
    if (!consumed) for await (const _ of body());
    if (remaining > 0) throw refuse(`entry ${label} was not read to its end`);
    const pad = padding(size).length;
    if ((await source.skip(pad)) < pad) throw refuse(`the upload is truncated after entry ${label}`);
  }
}

interface RawHeader {
  readonly path: string;
  readonly type: string;
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkpath: string;
}

function parseHeader(block: Buffer, first: boolean): RawHeader {
  // The first header decides whether this is tar at all; say so plainly.
  const notTar = (why: string) => refuse(first ? `the upload is gzip data but not a tar archive (${why})` : `the upload has a damaged header (${why})`);
  const magic = block.subarray(257, 263).toString('latin1');
  const gnu = magic === 'ustar ' && block[263] === 0x20 && block[264] === 0;
  if (magic !== 'ustar\0' && !gnu) throw notTar('no ustar magic');
  const checksum = parseNumber(block.subarray(148, 156));
  if (checksum === null || !checksumMatches(block, checksum)) throw notTar('checksum mismatch');
  const type = String.fromCharCode(block[156]!);
  const fields = { mode: parseNumber(block.subarray(100, 108)), size: parseNumber(block.subarray(124, 136)), mtime: parseNumber(block.subarray(136, 148)) };
  for (const [name, value] of Object.entries(fields)) if (value === null) throw notTar(`bad ${name} field`);
  const name = decodeName(fieldBytes(block, 0, 100), 'a header');
  // In POSIX ustar the prefix field continues the name; GNU uses those bytes for other things.
  const prefix = gnu ? '' : decodeName(fieldBytes(block, 345, 155), 'a header');
  return {
    path: prefix ? `${prefix}/${name}` : name,
    type: type === '\0' ? '0' : type,
    mode: fields.mode!,
    size: fields.size!,
    mtime: fields.mtime!,
    linkpath: decodeName(fieldBytes(block, 157, 100), 'a header'),
  };
}

function entryKind(type: string, label: string): TarEntryKind {
  switch (type) {
    case '0':
    case '7':
      return 'file';
    case '5':
      return 'directory';
    case '2':
      return 'symlink';
    case '1':
      throw refuse(`entry ${label} is a hard link; uploads may not contain hard links`);
    case '3':
    case '4':
      throw refuse(`entry ${label} is a device; uploads may hold only files, folders and links`);
    case '6':
      throw refuse(`entry ${label} is a FIFO; uploads may hold only files, folders and links`);
    default:
      throw refuse(`entry ${label} has the unsupported tar type ${JSON.stringify(type)}`);
  }
}

/** After the first zero block: the second one, then only zero padding (tar writes whole records). */
async function readEnd(source: ByteSource): Promise<void> {
  source.label = 'the end of the archive';
  for (;;) {
    const chunk = await source.readSome(64 * 1024);
    if (chunk.length === 0) return;
    if (!isZero(chunk)) throw refuse('the upload has data after the end-of-archive marker');
  }
}

/** Octal (NUL/space terminated) or GNU base-256; null when neither. Negative numbers are refused. */
function parseNumber(field: Buffer): number | null {
  if (field[0] === 0x80) {
    let value = 0;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return Number.isSafeInteger(value) ? value : null;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]*$/.test(text)) return null;
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumMatches(block: Buffer, expected: number): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  // Some old writers summed signed bytes; both mean the header is intact.
  return expected === unsigned || expected === signed;
}

function fieldBytes(block: Buffer, offset: number, length: number): Buffer {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

function trimNul(body: Buffer): Buffer {
  const nul = body.indexOf(0);
  return nul === -1 ? body : body.subarray(0, nul);
}

function decodeName(bytes: Buffer, where: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw refuse(`${where} has a name that is not valid UTF-8 (${JSON.stringify(bytes.toString('latin1'))})`);
  }
}

interface PaxFields {
  path?: string;
  linkpath?: string;
  size?: number;
  mtime?: number;
  /** Every key seen, including the ones berth does not use (uid, atime, comment, ...). */
  keys: string[];
}

/** pax records are `LENGTH key=value\n`, LENGTH counting the whole record in bytes. */
function parsePax(body: Buffer, where: string): PaxFields {
  const out: PaxFields = { keys: [] };
  const bad = (why: string) => refuse(`${where} has a malformed pax header (${why})`);
  let pos = 0;
  while (pos < body.length) {
    if (isZero(body.subarray(pos))) break;
    const space = body.indexOf(0x20, pos);
    const lengthText = space === -1 ? '' : body.subarray(pos, space).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lengthText)) throw bad('bad record length');
    const end = pos + Number(lengthText);
    if (end > body.length || end <= space || body[end - 1] !== 0x0a) throw bad('a record overruns the header');
    const record = body.subarray(space + 1, end - 1);
    pos = end;
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw bad('a record without a key');
    const key = record.subarray(0, equals).toString('latin1');
    const value = record.subarray(equals + 1);
    out.keys.push(key);
    if (key === 'hdrcharset') throw refuse(`${where} declares names that are not UTF-8 (pax hdrcharset)`);
    if (key !== 'path' && key !== 'linkpath' && key !== 'size' && key !== 'mtime') continue;
    // An empty value removes the key for this entry (POSIX pax).
    if (value.length === 0) {
      delete out[key];
    } else if (key === 'path' || key === 'linkpath') {
      out[key] = decodeName(value, where);
    } else {
      const text = value.toString('latin1');
      const pattern = key === 'size' ? /^[0-9]+$/ : /^-?[0-9]+(\.[0-9]+)?$/;
      if (!pattern.test(text) || !Number.isFinite(Number(text)) || Math.abs(Number(text)) > Number.MAX_SAFE_INTEGER) throw bad(`bad ${key}`);
      out[key] = Number(text);
    }
  }
  return out;
}

/** A global pax header is harmless metadata (git archive writes its commit id) unless it renames or resizes entries. */
function checkGlobalPax(pax: { keys: string[] }, where: string): void {
  const risky = pax.keys.filter((key) => key === 'path' || key === 'linkpath' || key === 'size');
  if (risky.length > 0) throw refuse(`${where} has a global pax header setting ${risky.join(', ')} for every entry`);
}

function isZero(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

/**
 * Pulls bytes from an async iterable in the sizes the reader asks for,
 * counting every byte as it arrives against the limit.
 */
class ByteSource {
  readonly #iterator: AsyncIterator<Buffer>;
  readonly #maxBytes: number;
  #pending: Buffer = Buffer.alloc(0);
  #total = 0;
  #done = false;
  /** What is being read, for the message when the limit is hit. */
  label = '';

  constructor(data: AsyncIterable<Buffer>, maxBytes: number) {
    this.#iterator = data[Symbol.asyncIterator]();
    this.#maxBytes = maxBytes;
  }

  async #pull(): Promise<boolean> {
    if (this.#done) return false;
    const next = await this.#iterator.next();
    if (next.done) {
      this.#done = true;
      return false;
    }
    this.#total += next.value.length;
    if (this.#total > this.#maxBytes) {
      throw new BerthError('BERTH_E_ARCHIVE_TOO_LARGE', `the upload unpacks to more than ${this.#maxBytes} bytes (at ${this.label})`, { status: 413, hint: 'leave build output and large files out with .berthignore' });
    }
    this.#pending = this.#pending.length === 0 ? next.value : Buffer.concat([this.#pending, next.value]);
    return true;
  }

  /** Exactly `n` bytes, or fewer only where the data ends. */
  async read(n: number): Promise<Buffer> {
    while (this.#pending.length < n && (await this.#pull()));
    const out = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  /** Between 1 and `n` bytes as soon as any are there; empty only where the data ends. */
  async readSome(n: number): Promise<Buffer> {
    while (this.#pending.length === 0 && (await this.#pull()));
    const out = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  /** Discards up to `n` bytes; returns how many there were. */
  async skip(n: number): Promise<number> {
    return (await this.read(n)).length;
  }
}
