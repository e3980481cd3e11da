// The entry point of an edge worker thread: one engine, its own routes,
// and the protocol with the main thread (edge-server.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { RouteSwitch } from '../route-switch.ts';
import type { RouteSpec } from '../route-spec.ts';
import { ListenError } from '../../listen.ts';
import { Engine } from './engine.ts';
import type { EdgeLimits } from './limits.ts';
import { purgeCache } from './proxy-pipeline.ts';
import { TlsState } from './tls-state.ts';
import type { MainMessage, WorkerInit, WorkerMessage } from './worker-protocol.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const send = (message: WorkerMessage) => port.postMessage(message);
const routes = new RouteSwitch(init.version);

const tls = new TlsState();
tls.update(init.tls);
tls.setChallenges(init.challenges);

const engine = new Engine({
  routes: () => routes.current(),
  limits: init.limits as Partial<EdgeLimits>,
  log: (line) => send({ type: 'log', line }),
  tls,
  ticketKeys: Buffer.from(init.ticketKeys),
  limiter: init.limiter,
  connections: init.connections,
  cacheBytes: init.cacheBytes,
  spillDir: init.spillDir,
  observe: init.observe ? (batch) => send({ type: 'observations', batch }) : null,
  accessRecords: init.accessRecords,
  engineIndex: init.engineIndex,
});

async function prepare(version: number, spec: RouteSpec): Promise<void> {
  try {
    await routes.prepare(version, spec);
    send({ type: 'prepared', version });
  } catch (err) {
    send({ type: 'prepare-failed', version, message: (err as Error).message });
  }
}

port.on('message', (message: MainMessage) => {
  switch (message.type) {
    case 'routes':
      void prepare(message.version, message.spec);
      return;
    case 'drain': {
      routes.current();
      const address = { id: '', host: message.host, port: message.port };
      void Promise.all(routes.builder.groups().map((group) => group.drain(address, message.deadline))).then(() => send({ type: 'drained', id: message.id }));
      return;
    }
    case 'tls':
      tls.update(message.config);
      return;
    case 'challenges':
      tls.setChallenges(message.tokens);
      return;
    case 'purge':
      send({ type: 'purged', id: message.id, count: purgeCache(engine.services, message.hosts, message.path) });
      return;
    case 'close':
      void engine.close(message.graceMs, message.idleCloseMs).then(() => {
        for (const group of routes.builder.groups()) group.close();
        send({ type: 'closed' });
        port.close();
      });
      return;
  }
});

void (async () => {
  await prepare(init.initialVersion, init.spec);
  let listener = { host: init.host, port: init.port, secure: false };
  try {
    await engine.listen({ ...listener, reusePort: true });
    if (init.https !== null) {
      listener = { host: init.https.host, port: init.https.port, secure: true };
      await engine.listen({ ...listener, reusePort: true });
    }
    send({ type: 'listening' });
  } catch (err) {
    send({ type: 'listen-failed', ...listener, reason: err instanceof ListenError ? err.reason : (err as Error).message });
  }
})();
