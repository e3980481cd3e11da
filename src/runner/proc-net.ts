import { readFile } from 'node:fs/promises';

// Who listens on a TCP port, from the kernel's own tables (/proc/net/tcp and
// /proc/net/tcp6). Parsing is pure, so it is tested on captured text; the
// read is one thin function at the end.

/** A listening TCP socket as /proc/net/tcp* shows it. */
export interface TcpListener {
  readonly family: 4 | 6;
  /** The local address in its usual spelling: `127.0.0.1`, `0.0.0.0`, `::`, `::ffff:127.0.0.1`, `::1`. */
  readonly address: string;
  readonly port: number;
  /** The socket's owner: the effective uid of the process that made it. */
  readonly uid: number;
  /** The socket's inode, as /proc/PID/fd links name it: `socket:[INODE]`. */
  readonly inode: number;
}

/** The kernel's state code for LISTEN. */
const LISTEN = '0A';

/**
 * One 32-bit word of an address as the kernel prints it: the bytes of the
 * word in the machine's order (little-endian on x86 and arm64), so
 * 127.0.0.1 is `0100007F` there.
 */
function wordBytes(hex: string, littleEndian: boolean): number[] {
  const bytes = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return littleEndian ? bytes.reverse() : bytes;
}

function ipv4(hex: string, littleEndian: boolean): string | null {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return null;
  return wordBytes(hex, littleEndian).join('.');
}

function ipv6(hex: string, littleEndian: boolean): string | null {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return null;
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) bytes.push(...wordBytes(hex.slice(w * 8, w * 8 + 8), littleEndian));
  // The two forms that matter here are spelled out; others as eight groups.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  if (bytes.every((b) => b === 0)) return '::';
  if (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) return '::1';
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/**
 * The listening sockets in the text of /proc/net/tcp (family 4) or
 * /proc/net/tcp6 (family 6). Lines in any other state, and lines that do
 * not parse, are left out.
 */
export function parseProcNetTcp(text: string, family: 4 | 6, littleEndian = true): TcpListener[] {
  const listeners: TcpListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    const [addressHex, portHex] = fields[1]!.split(':');
    if (addressHex === undefined || portHex === undefined || !/^[0-9A-Fa-f]{4}$/.test(portHex)) continue;
    const address = family === 4 ? ipv4(addressHex, littleEndian) : ipv6(addressHex, littleEndian);
    const uid = Number(fields[7]);
    const inode = Number(fields[9]);
    if (address === null || !Number.isInteger(uid) || !Number.isInteger(inode)) continue;
    listeners.push({ family, address, port: parseInt(portHex, 16), uid, inode });
  }
  return listeners;
}

/** The local addresses whose listeners would take a connection to 127.0.0.1. */
const REACHES_LOOPBACK = new Set(['127.0.0.1', '0.0.0.0', '::', '::ffff:127.0.0.1']);

/** The listeners that would accept a connection to 127.0.0.1:`port` (what the edge connects to). */
export function listenersFor(listeners: readonly TcpListener[], port: number): TcpListener[] {
  return listeners.filter((l) => l.port === port && REACHES_LOOPBACK.has(l.address));
}

/** Every listening TCP socket of the machine (this network namespace), IPv4 and IPv6. */
export async function readTcpListeners(): Promise<TcpListener[]> {
  const read = (path: string) => readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
  const [v4, v6] = await Promise.all([read('/proc/net/tcp'), read('/proc/net/tcp6')]);
  return [...parseProcNetTcp(v4, 4), ...parseProcNetTcp(v6, 6)];
}
