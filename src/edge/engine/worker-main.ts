// The entry point of an edge worker thread: one engine, its own route
// builder, and the protocol with the main thread (edge-server.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { RouteBuilder, type PreparedRoutes, type RouteSpec } from '../route-spec.ts';
import type { RouteTable } from '../router.ts';
import { Engine } from './engine.ts';
import type { EdgeLimits } from './limits.ts';
import type { MainMessage, WorkerInit, WorkerMessage } from './worker-protocol.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const send = (message: WorkerMessage) => port.postMessage(message);
const version = new Int32Array(init.version);
const builder = new RouteBuilder();

let table: RouteTable = { hosts: new Map(), fallbackSite: null };
let tableVersion = -1;
let pending: { version: number; prepared: PreparedRoutes } | null = null;

// Every request asks which table is in force. The main thread flips the
// shared version only once every worker has prepared it, so all workers
// switch at the same instant, and a request sees one table or the other.
function current(): RouteTable {
  const wanted = Atomics.load(version, 0);
  if (wanted !== tableVersion && pending !== null && pending.version === wanted) {
    table = RouteBuilder.apply(pending.prepared);
    tableVersion = wanted;
    pending = null;
  }
  return table;
}

const engine = new Engine({
  routes: current,
  limits: init.limits as Partial<EdgeLimits>,
  proto: init.proto,
  log: (line) => send({ type: 'log', line }),
});

async function prepare(v: number, spec: RouteSpec): Promise<void> {
  try {
    pending = { version: v, prepared: await builder.prepare(spec) };
    send({ type: 'prepared', version: v });
  } catch (err) {
    send({ type: 'prepare-failed', version: v, message: (err as Error).message });
  }
}

port.on('message', (message: MainMessage) => {
  switch (message.type) {
    case 'routes':
      void prepare(message.version, message.spec);
      return;
    case 'drain': {
      current();
      const address = { id: '', host: message.host, port: message.port };
      void Promise.all(builder.groups().map((group) => group.drain(address, message.deadline))).then(() => send({ type: 'drained', id: message.id }));
      return;
    }
    case 'close':
      void engine.close(message.graceMs).then(() => {
        for (const group of builder.groups()) group.close();
        send({ type: 'closed' });
        port.close();
      });
      return;
  }
});

void (async () => {
  await prepare(init.initialVersion, init.spec);
  try {
    await engine.listen({ host: init.host, port: init.port, reusePort: true });
    send({ type: 'listening' });
  } catch (err) {
    send({ type: 'listen-failed', message: (err as Error).message });
  }
})();
