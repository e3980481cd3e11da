// Memory per idle keep-alive connection: open N connections, each sends one
// request, reads the whole answer and then stays open doing nothing; the
// server's RSS (all its processes) is sampled before and after.
import { connect, type Socket } from 'node:net';
import { treeUsage } from './proc-tree.ts';

export interface IdleMemoryInput {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** The server's root process; its whole tree is measured. */
  readonly rootPid: number;
  readonly connections: number;
  /** Connections being opened at once. */
  readonly concurrency?: number;
  /** Wait after the last answer before sampling, so the server settles. */
  readonly settleMs?: number;
  readonly timeoutMs?: number;
}

export interface IdleMemoryResult {
  readonly wanted: number;
  /** Connections that got their answer. */
  readonly opened: number;
  /** Of those, still open when RSS was sampled (a server may close idle ones early). */
  readonly openAtSample: number;
  readonly failed: number;
  readonly processes: number;
  readonly rssBeforeKiB: number;
  readonly rssAfterKiB: number;
  /** (after − before) / openAtSample, in KiB. */
  readonly perConnectionKiB: number | null;
  /** From the first connect to the sample. */
  readonly elapsedMs: number;
}

/** Resolves when the whole response (head plus Content-Length body) has arrived; rejects on close or error. */
function openIdle(host: string, port: number, path: string, sockets: Set<Socket>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    let received = '';
    let done = false;
    const timer = setTimeout(() => fail(new Error('no answer in time')), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (!done) reject(err);
    };
    socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      if (done) return; // nothing more is expected; ignore
      received += chunk.toString('latin1');
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(received.slice(0, headEnd));
      if (!length) return fail(new Error('answer without content-length'));
      if (received.length - headEnd - 4 < Number(length[1])) return;
      done = true;
      clearTimeout(timer);
      received = '';
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      resolve();
    });
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('closed before the answer')));
  });
}

export async function measureIdleMemory(input: IdleMemoryInput): Promise<IdleMemoryResult> {
  const concurrency = input.concurrency ?? 200;
  const settleMs = input.settleMs ?? 1_000;
  const timeoutMs = input.timeoutMs ?? 10_000;
  const before = await treeUsage(input.rootPid);
  const open = new Set<Socket>();
  const started = Date.now();
  let opened = 0;
  let failed = 0;
  let next = 0;
  const lane = async () => {
    while (next < input.connections) {
      next++;
      try {
        await openIdle(input.host, input.port, input.path, open, timeoutMs);
        opened++;
      } catch {
        failed++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, input.connections) }, lane));
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const after = await treeUsage(input.rootPid);
    const openAtSample = open.size;
    return {
      wanted: input.connections,
      opened,
      openAtSample,
      failed,
      processes: after.processes,
      rssBeforeKiB: before.rssKiB,
      rssAfterKiB: after.rssKiB,
      perConnectionKiB: openAtSample > 0 ? (after.rssKiB - before.rssKiB) / openAtSample : null,
      elapsedMs: Date.now() - started,
    };
  } finally {
    for (const socket of open) socket.destroy();
  }
}
