import { closeSync, constants, fchmodSync, futimesSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { ReadEntry } from 'tar';
import { BerthError } from '../errors.ts';

// How one entry of a base image's layer is placed in the root being
// unpacked (rootfs.ts says why these calls are safe by path): names
// resolved inside the root, whiteouts, the entry's own name never
// followed, the sandbox's mount points made real.

export interface RootfsLimits {
  /** Most bytes of tar data all layers together decompress to. */
  readonly maxBytes: number;
  /** Most entries in all layers together. */
  readonly maxEntries: number;
}

export const DEFAULT_ROOTFS_LIMITS: RootfsLimits = { maxBytes: 8 * 1024 ** 3, maxEntries: 1_000_000 };

/** Folders and files the sandbox mounts over: made real (never links) in the root, so a mount lands where it says. */
export interface MountPoints {
  readonly dirs: readonly string[];
  readonly files: readonly string[];
}

/** The most links one path may go through (the kernel's own limit). */
const MAX_LINK_HOPS = 40;
const MAX_PATH_BYTES = 4096;
const SET_ID_BITS = 0o6000;

export function baseLayerError(message: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_E_BASE_LAYER', message, { status: 422, hint: 'use another base image (--base-image); this one cannot be unpacked safely', ...(cause === undefined ? {} : { cause }) });
}

/**
 * The names of a layer entry's path inside the root: leading `/` and `./`
 * dropped (an absolute name means the root's), empty and `.` names skipped;
 * a `..` name is refused (no image writer makes one). Pure.
 */
export function entryParts(path: string): string[] {
  if (path.includes('\0')) throw baseLayerError(`a layer entry's name holds a NUL byte (${JSON.stringify(path.slice(0, 200))})`);
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw baseLayerError(`a layer entry's name is longer than ${MAX_PATH_BYTES} bytes (${JSON.stringify(path.slice(0, 200))}…)`);
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw baseLayerError(`the layer entry ${JSON.stringify(path)} climbs out with ".."`);
  return parts;
}

export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Resolves `parts` inside `root` as if it were `/`: links followed within
 * it, `..` stopping at it. Returns the real names below root, or null when
 * a name is missing (and `create` is false; with it, missing folders are
 * made 0755). The last name is followed only when `followLast`. Throws when
 * a folder on the way is a file, or after too many links.
 */
export function resolveInRoot(root: string, parts: readonly string[], options: { create: boolean; followLast: boolean; label: string }): string[] | null {
  const real: string[] = [];
  const pending = [...parts];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      real.pop();
      continue;
    }
    const last = pending.length === 0;
    const path = join(root, ...real, part);
    const found = lstatOrNull(path);
    if (found === null) {
      if (last) return [...real, part];
      if (!options.create) return null;
      mkdirSync(path, { mode: 0o755 });
      real.push(part);
      continue;
    }
    if (found.isSymbolicLink() && (!last || options.followLast)) {
      if (++hops > MAX_LINK_HOPS) throw baseLayerError(`${options.label} goes through more than ${MAX_LINK_HOPS} links`);
      const target = readlinkSync(path, 'utf8');
      if (target.startsWith('/')) real.length = 0;
      pending.unshift(...target.split('/'));
      continue;
    }
    if (!last && !found.isDirectory()) throw baseLayerError(`${options.label} goes through ${JSON.stringify(`/${[...real, part].join('/')}`)}, which is not a folder`);
    real.push(part);
  }
  return real;
}

/** Applies layers, in order, into one root. */
export class RootWriter {
  readonly root: string;
  readonly #limits: RootfsLimits;
  #entries = 0;
  #bytes = 0;
  skipped = 0;
  /** Real paths written by the layer being applied: an opaque whiteout keeps them. */
  #thisLayer = new Set<string>();

  constructor(root: string, limits: RootfsLimits) {
    this.root = root;
    this.#limits = limits;
  }

  startLayer(): void {
    this.#thisLayer = new Set();
  }

  countBytes(bytes: number, layer: number): void {
    this.#bytes += bytes;
    if (this.#bytes > this.#limits.maxBytes) throw baseLayerError(`the base image's layers unpack to more than ${this.#limits.maxBytes} bytes (at layer ${layer + 1})`);
  }

  /** Handles one entry; a file's data is written by the returned sink, ended by its `end`. */
  entry(entry: ReadEntry): { write(chunk: Buffer): void; end(): void } | null {
    const label = `the layer entry ${JSON.stringify(entry.path)}`;
    if (++this.#entries > this.#limits.maxEntries) throw baseLayerError(`the base image's layers hold more than ${this.#limits.maxEntries} entries (at ${label})`);
    const parts = entryParts(entry.path);
    if (parts.length === 0) return null; // `./`: the root itself
    const name = parts.at(-1)!;
    const parent = parts.slice(0, -1);
    if (name.startsWith('.wh.')) {
      this.#whiteout(parent, name, label);
      return null;
    }
    switch (entry.type) {
      case 'Directory':
      case 'GNUDumpDir':
        this.#directory(parts, entry.mode ?? 0o755, label);
        return null;
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        return this.#file(parts, entry, label);
      case 'SymbolicLink':
        this.#symlink(parts, entry.linkpath ?? '', label);
        return null;
      case 'Link':
        this.#hardLink(parts, entry.linkpath ?? '', label);
        return null;
      case 'CharacterDevice':
      case 'BlockDevice':
      case 'FIFO':
        // A build has no use for them: /dev is the sandbox's own.
        this.skipped++;
        return null;
      default:
        throw baseLayerError(`${label} has the tar type ${entry.type}, which berth does not unpack`);
    }
  }

  /** The entry's place: its folder resolved inside the root (made when missing), whatever was at its name removed. */
  #place(parts: readonly string[], label: string, keepDirectory: boolean): { path: string; key: string; kept: boolean } {
    const real = resolveInRoot(this.root, parts, { create: true, followLast: false, label })!;
    const path = join(this.root, ...real);
    const key = real.join('/');
    const existing = lstatOrNull(path);
    if (existing !== null) {
      if (keepDirectory && existing.isDirectory()) return { path, key, kept: true };
      rmSync(path, { recursive: true, force: true });
    }
    return { path, key, kept: false };
  }

  #directory(parts: readonly string[], mode: number, label: string): void {
    const { path, key, kept } = this.#place(parts, label, true);
    if (!kept) mkdirSync(path, { mode: 0o755 });
    // Set-id bits dropped; the sticky bit (a shared /tmp) only restricts.
    chmodNoFollow(path, mode & 0o1777);
    this.#thisLayer.add(key);
  }

  #file(parts: readonly string[], entry: ReadEntry, label: string): { write(chunk: Buffer): void; end(): void } {
    const { path, key } = this.#place(parts, label, false);
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    this.#thisLayer.add(key);
    return {
      write(chunk) {
        for (let offset = 0; offset < chunk.length; ) offset += writeSync(fd, chunk, offset);
      },
      end() {
        try {
          fchmodSync(fd, (entry.mode ?? 0o644) & 0o777 & ~SET_ID_BITS);
          // Python compares a module's mtime with its cached bytecode's.
          const mtime = entry.mtime instanceof Date ? entry.mtime : new Date(0);
          futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
      },
    };
  }

  #symlink(parts: readonly string[], target: string, label: string): void {
    if (target === '' || target.includes('\0') || Buffer.byteLength(target) > MAX_PATH_BYTES) throw baseLayerError(`${label} is a link with an empty or unusable target`);
    // Kept as text: it is only ever followed inside the root (here, and by the kernel in the sandbox, whose / it is).
    const { path, key } = this.#place(parts, label, false);
    symlinkSync(target, path);
    this.#thisLayer.add(key);
  }

  #hardLink(parts: readonly string[], target: string, label: string): void {
    const targetParts = entryParts(target);
    if (targetParts.length === 0) throw baseLayerError(`${label} is a hard link to the root`);
    // The target's folders are resolved inside the root; its own name is not followed: a link to a link is refused.
    const real = resolveInRoot(this.root, targetParts, { create: false, followLast: false, label });
    const source = real === null ? null : join(this.root, ...real);
    const found = source === null ? null : lstatOrNull(source);
    if (found === null || !found.isFile()) throw baseLayerError(`${label} is a hard link to ${JSON.stringify(target)}, which is not a file of the layers before it`);
    const { path, key } = this.#place(parts, label, false);
    linkSync(source!, path);
    this.#thisLayer.add(key);
  }

  #whiteout(parent: readonly string[], name: string, label: string): void {
    const hidden = name.slice('.wh.'.length);
    if (name !== '.wh..wh..opq' && (hidden === '' || hidden === '.' || hidden === '..' || hidden.startsWith('.wh.'))) throw baseLayerError(`${label} is a whiteout of nothing`);
    const real = resolveInRoot(this.root, parent, { create: false, followLast: true, label });
    if (real === null) return; // nothing below to hide
    const folder = join(this.root, ...real);
    const found = lstatOrNull(folder);
    if (found === null || !found.isDirectory()) return;
    if (name === '.wh..wh..opq') {
      // Opaque: the layers below are hidden in this folder; what this layer put there stays.
      for (const child of readdirSync(folder)) {
        if (!this.#thisLayer.has([...real, child].join('/'))) rmSync(join(folder, child), { recursive: true, force: true });
      }
      return;
    }
    // rm removes a link as the link, never what it leads to.
    rmSync(join(folder, hidden), { recursive: true, force: true });
  }

  /** Each mount point a real folder or file (a link or anything else there is replaced), so a mount never follows the image's links. */
  makeMountPoints(points: MountPoints): void {
    const real = (path: string, kind: 'dir' | 'file') => {
      const parts = entryParts(path);
      for (let i = 1; i <= parts.length; i++) {
        const at = join(this.root, ...parts.slice(0, i));
        const found = lstatOrNull(at);
        const wantDir = i < parts.length || kind === 'dir';
        if (found !== null && (wantDir ? found.isDirectory() : found.isFile())) continue;
        if (found !== null) rmSync(at, { recursive: true, force: true });
        if (wantDir) mkdirSync(at, { mode: 0o755 });
        else closeSync(openSync(at, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644));
      }
    };
    for (const dir of points.dirs) real(dir, 'dir');
    for (const file of points.files) real(file, 'file');
  }
}

function chmodNoFollow(path: string, mode: number): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
