// Network namespaces for the sandbox's network tests: namespaces of their
// own (a stand-in "host" with forwarding on, an "outside" machine), and
// small programs run inside them as any uid: a listener that greets, a
// probe that connects and says what happened, a DNS responder and query.
// Everything is made under one temp folder and taken down by cleanup().

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findEgress, stopEgress } from '../../src/sandbox/egress.ts';

const run = promisify(execFile);
const NODE = process.execPath;

/** Runs a program (argv) to its end; its stdout, or an error with its stderr. */
export async function sh(argv: readonly string[], input?: string): Promise<string> {
  if (input === undefined) return (await run(argv[0]!, argv.slice(1), { encoding: 'utf8' })).stdout;
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), { encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`${argv.join(' ')}: ${stderr}`)) : resolve(stdout)));
    child.stdin!.end(input);
  });
}

/** argv that runs `argv` inside the namespace `netns` (a file), as `uid` when given. */
export function inNetns(netns: string | null, uid: number | null, argv: readonly string[]): string[] {
  const as = uid === null ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];
  return [...(netns === null ? [] : ['nsenter', `--net=${netns}`, '--']), ...as, ...argv];
}

/** A new network namespace bound to `path`, its loopback up. */
export async function makeNetns(path: string): Promise<void> {
  await writeFile(path, '', { mode: 0o600 });
  await sh(['unshare', `--net=${path}`, 'true']);
  await sh(inNetns(path, null, ['ip', 'link', 'set', 'lo', 'up']));
}

/** Whether `path` is a mount point (a namespace file still bound). */
export function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

/** Mount points under `dir`. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
}

const LISTENER = `
const net = require('node:net');
const [host, port, name] = process.argv.slice(1);
const server = net.createServer((s) => {
  s.on('error', () => {});
  s.write('hello from ' + name + '\\n');
  s.on('data', (d) => s.write(d));
});
server.listen(Number(port), host, () => console.log('listening ' + server.address().port));
`;

const PROBE = `
const net = require('node:net');
const [timeout, ...targets] = process.argv.slice(1);
const out = {};
const named = { ECONNREFUSED: 'refused', ECONNRESET: 'reset', ENETUNREACH: 'unreachable', EHOSTUNREACH: 'unreachable' };
Promise.all(targets.map((t) => new Promise((resolve) => {
  const i = t.lastIndexOf(':');
  const s = net.connect({ host: t.slice(0, i), port: Number(t.slice(i + 1)) });
  let connected = false;
  let settled = false;
  const finish = (what) => {
    if (settled) return;
    settled = true;
    out[t] = what;
    clearTimeout(timer);
    s.destroy();
    resolve();
  };
  const timer = setTimeout(() => finish(connected ? 'connected' : 'timeout'), Number(timeout));
  s.on('connect', () => { connected = true; });
  s.on('data', (d) => finish('connected ' + d.toString().split('\\n')[0]));
  s.on('close', () => finish(connected ? 'connected' : 'closed'));
  s.on('error', (e) => finish(connected ? 'connected' : named[e.code] ?? String(e.code)));
}))).then(() => console.log(JSON.stringify(out)));
`;

const DNS_RESPONDER = `
const dgram = require('node:dgram');
const [address, answer] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (q, from) => {
  let end = 12;
  while (q[end] !== 0) end += q[end] + 1;
  const question = q.subarray(12, end + 5);
  const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...answer.split('.').map(Number)]);
  s.send(Buffer.concat([header, question, rr]), from.port, from.address);
});
s.bind(53, address, () => console.log('listening 53'));
`;

const DNS_QUERY = `
const dgram = require('node:dgram');
const [server, name] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
const query = Buffer.concat([Buffer.from([0x42, 0x17, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
const timer = setTimeout(() => { console.log(JSON.stringify({ answered: false })); process.exit(0); }, 3000);
s.on('message', (r) => {
  clearTimeout(timer);
  const rcode = r[3] & 15;
  const count = r.readUInt16BE(6);
  const last = r.subarray(r.length - 4);
  console.log(JSON.stringify({ answered: r[0] === 0x42 && r[1] === 0x17, rcode, address: count > 0 ? [...last].join('.') : null }));
  process.exit(0);
});
s.send(query, 53, server);
`;

/** The programs a test started, ended by cleanup(). */
export class Programs {
  readonly #children: ChildProcess[] = [];

  /** Starts a program and waits for its first output line (its "listening PORT"); the port. */
  async start(argv: readonly string[]): Promise<number> {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.#children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} did not start: ${err}`)), 20_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const match = /listening (\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${argv.join(' ')} exited with ${String(code)}: ${err}`));
      });
    });
  }

  /** A TCP listener (port 0: any) in `netns` as `uid`, greeting each connection with "hello from NAME" and echoing; its port. */
  listen(netns: string | null, uid: number | null, host: string, port: number, name: string): Promise<number> {
    return this.start(inNetns(netns, uid, [NODE, '-e', LISTENER, host, String(port), name]));
  }

  /** A DNS responder on ADDRESS:53 in `netns`, answering every A query with `answer`. */
  dnsResponder(netns: string | null, address: string, answer: string): Promise<number> {
    return this.start(inNetns(netns, null, [NODE, '-e', DNS_RESPONDER, address, answer]));
  }

  async cleanup(): Promise<void> {
    for (const child of this.#children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        continue;
      }
      await exited;
    }
  }
}

/** What happened to each connection attempt: "connected hello from NAME", "refused", "reset", "unreachable", "timeout", … */
export async function probe(netns: string | null, uid: number | null, targets: readonly string[], timeoutMs = 5_000): Promise<Record<string, string>> {
  return JSON.parse(await sh(inNetns(netns, uid, [NODE, '-e', PROBE, String(timeoutMs), ...targets])));
}

/** One A query to SERVER:53 from `netns` as `uid`. */
export async function dnsQuery(netns: string | null, uid: number | null, server: string, name: string): Promise<{ answered: boolean; rcode?: number; address?: string | null }> {
  return JSON.parse(await sh(inNetns(netns, uid, [NODE, '-e', DNS_QUERY, server, name])));
}

/** The first IPv4 nameserver of the machine's resolv.conf: where slirp sends DNS queries. */
export function systemNameserver(): string {
  const text = readFileSync('/etc/resolv.conf', 'utf8');
  const match = /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(text);
  if (!match) throw new Error('/etc/resolv.conf names no IPv4 nameserver: slirp4netns would have no DNS to forward to');
  return match[1]!;
}

/**
 * A folder for one test's namespaces. cleanup() ends its programs and any
 * slirp naming a file in it, unbinds every namespace file and removes it.
 */
export class NetnsFolder {
  readonly dir: string;
  readonly programs = new Programs();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async make(name: string): Promise<NetnsFolder> {
    return new NetnsFolder(await mkdtemp(join(tmpdir(), `berth-${name}-`)));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  async cleanup(): Promise<void> {
    await this.programs.cleanup();
    for (const p of await findEgress(this.dir)) await stopEgress(p);
    for (const mount of mountsUnder(this.dir).reverse()) await sh(['umount', mount]).catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Addresses of the stand-in host and the outside machine (TEST-NET-2, never on a real network). */
export const HOST_PUBLIC = '198.51.100.1';
export const OUTSIDE = '198.51.100.2';

/**
 * A stand-in host: a namespace with forwarding on (its own sysctl, never
 * the machine's), linked to an "outside" machine that routes the whole of
 * 169.254.0.0/16 to it and is its default gateway (the internet, the
 * cloud's metadata service). Both are namespaces of the folder.
 */
export async function makeTestHost(folder: NetnsFolder): Promise<{ host: string; outside: string }> {
  const host = folder.path('host');
  const outside = folder.path('outside');
  await makeNetns(host);
  await makeNetns(outside);
  for (const ns of [host, outside]) await sh(inNetns(ns, null, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
  await sh(inNetns(host, null, ['ip', 'link', 'add', 'wan', 'type', 'veth', 'peer', 'name', 'wan', 'netns', outside]));
  await sh(inNetns(host, null, ['ip', '-batch', '-']), `address add ${HOST_PUBLIC}/24 dev wan\nlink set dev wan up\nroute add default via ${OUTSIDE}\n`);
  await sh(inNetns(outside, null, ['ip', '-batch', '-']), `address add ${OUTSIDE}/24 dev wan\nlink set dev wan up\nroute add 169.254.0.0/16 via ${HOST_PUBLIC}\n`);
  return { host, outside };
}
