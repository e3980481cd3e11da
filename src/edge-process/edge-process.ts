// The edge process (`berth edge-process --state DIR`, hidden): an Edge
// that outlives the daemon, configured over a control socket. One control
// client at a time (the daemon; a new connection replaces the old, as a
// restarted daemon's does). Without a client it keeps serving, keeps access
// records in a bounded backlog and writes its log lines to edge.log.
import { chmodSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePrivateDir } from '../safe-fs/index.ts';
import { createServer, type Socket } from 'node:net';
import { Edge, type TlsConfig, type RouteSpec, type ObservationBatch } from '../edge/index.ts';
import { isBerthError } from '../errors.ts';
import { ListenError } from '../listen.ts';
import { LineDecoder, asRequest, encodeLine, type EdgeEvent, type EdgeSettings, type Hello, type Request, type Response } from './protocol.ts';
import { RecordBacklog, LogFile, splitBatch } from './backlog.ts';
import { codeIdentity } from './code-identity.ts';
import { edgePaths, ensurePrivateFolder, processStartTime, readEdgeRecord, removeName, writePrivateFile } from './files.ts';

export interface EdgeProcessOptions {
  readonly stateDir: string;
  /** This edge's own control socket, in STATE/run, until it takes charge. */
  readonly socket: string;
  readonly codeSalt: string;
}

/** An edge that is not listening and has had no client this long ends: nobody will configure it. */
const UNCONFIGURED_EXIT_MS = 30_000;
const MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req';

export async function runEdgeProcess(options: EdgeProcessOptions): Promise<void> {
  // Every file this process makes is root's alone (the socket included: bind() honours the umask).
  process.umask(0o077);
  const paths = edgePaths(options.stateDir);
  ensurePrivateFolder(paths.runDir);
  ensurePrivateFolder(paths.logDir);
  // Spill files: a folder of this process's own under STATE/run/edge-tmp; those of edge processes gone (killed) are removed.
  const spillParent = join(paths.runDir, 'edge-tmp');
  ensurePrivateFolder(spillParent);
  for (const name of readdirSync(spillParent)) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isSafeInteger(pid) || processStartTime(pid) === null) rmSync(join(spillParent, name), { recursive: true, force: true });
  }
  const spillDir = await makePrivateDir(spillParent, `${process.pid}-`);
  const code = codeIdentity(options.codeSalt);
  const startTime = processStartTime(process.pid) ?? 0;
  const logFile = new LogFile(paths.log);
  const backlog = new RecordBacklog();

  let client: Socket | null = null;
  let settings: EdgeSettings | null = null;
  let routes: RouteSpec = { hosts: {}, fallback: null };
  let tls: TlsConfig = { certificates: [], fallback: null };
  let challenges = new Map<string, string>();
  const versions = { routes: 0, tls: 0, challenges: 0 };
  let edge: Edge | null = null;
  let listening = false;
  let leaving = false;
  let socketPath = options.socket;
  let socketInode: number | null = null;
  let lastConnections = 0;

  const send = (message: Response | EdgeEvent) => {
    if (client !== null && !client.destroyed) client.write(encodeLine(message));
  };
  const log = (line: string) => {
    if (client !== null && !client.destroyed) send({ event: 'log', line });
    else logFile.append(line);
  };
  const observe = (batch: ObservationBatch) => {
    if (batch.engine === 0) lastConnections = batch.connections;
    if (client !== null && !client.destroyed) for (const part of splitBatch(batch)) send({ event: 'observations', batch: part });
    else backlog.add(batch.records, batch.dropped);
  };

  const hello = (): Hello => ({
    pid: process.pid,
    startTime,
    code,
    settings,
    listening,
    address: edge?.address ?? null,
    httpsAddress: edge?.httpsAddress ?? null,
    versions: { ...versions },
    leaving,
  });

  /** Leaves the names this edge holds (socket, edge.json) to whoever holds them now. */
  const cleanUp = () => {
    try {
      if (socketInode !== null && lstatSync(socketPath).ino === socketInode) removeName(socketPath);
    } catch {
      // gone already, or a successor's
    }
    if (readEdgeRecord(paths.record)?.pid === process.pid) removeName(paths.record);
    rmSync(spillDir, { recursive: true, force: true });
    logFile.close();
  };

  const leave = async (graceMs: number, retire: boolean, migrateQueued: boolean) => {
    if (leaving) return;
    leaving = true;
    if (retire && migrateQueued) allowQueuedMigration(log);
    if (edge !== null) await (retire ? edge.retire(graceMs) : edge.close(graceMs));
    cleanUp();
    control.close();
    client?.end();
    // Let the last answer and events leave before the process does.
    setTimeout(() => process.exit(0), 50);
  };

  async function handle(request: Request): Promise<unknown> {
    switch (request.type) {
      case 'hello':
        return hello();
      case 'content':
        return { routes, tls, challenges: [...challenges] };
      case 'configure':
        if (listening) throw new Error('the edge is listening already; its settings stay');
        settings = request.settings;
        routes = request.content.routes;
        tls = request.content.tls;
        challenges = new Map(request.content.challenges);
        return hello();
      case 'listen': {
        if (settings === null) throw new Error('configure the edge before it listens');
        if (edge !== null) throw new Error('the edge listens already');
        const created = new Edge({
          routes,
          tls,
          https: request.https,
          workers: settings.workers ?? undefined,
          limits: settings.limits,
          accessRecords: settings.accessRecords,
          tempDir: spillDir,
          log,
          onObservations: observe,
        });
        created.setChallenges(challenges);
        edge = created;
        try {
          await created.listen(request.http.host, request.http.port, { join: request.join.http, joinHttps: request.join.https });
        } catch (err) {
          // Nothing to serve: this edge ends, and whatever served before goes on.
          void leave(0, false, false);
          throw err;
        }
        listening = true;
        return hello();
      }
      case 'claim': {
        // Atomic: the name passes from the predecessor's socket to this one's (a link there is replaced, never followed).
        const charge = edgePaths(options.stateDir).socket;
        if (socketPath !== charge) {
          renameSync(socketPath, charge);
          socketPath = charge;
        }
        socketInode = lstatSync(socketPath).ino;
        writePrivateFile(paths.record, JSON.stringify({ pid: process.pid, startTime }));
        return hello();
      }
      case 'setRoutes':
        if (edge !== null) await edge.setRoutes(request.spec);
        routes = request.spec;
        versions.routes++;
        return null;
      case 'setTls':
        tls = request.config;
        edge?.setTls(tls);
        versions.tls++;
        return null;
      case 'setChallenges':
        challenges = new Map(request.tokens);
        edge?.setChallenges(challenges);
        versions.challenges++;
        return null;
      case 'drain':
        if (edge !== null) await edge.drain({ id: '', host: request.host, port: request.port }, request.deadline);
        return null;
      case 'purge':
        return edge === null ? 0 : await edge.purge(request.hosts, request.path);
      case 'retire':
        void leave(request.graceMs, true, request.migrateQueued);
        return null;
      case 'stop':
        void leave(request.graceMs, false, false);
        return null;
    }
  }

  const answer = async (connection: Socket, request: Request) => {
    let response: Response;
    try {
      response = { id: request.id, ok: true, result: await handle(request) };
    } catch (err) {
      const e = err as Error & { code?: string; hint?: string };
      response = {
        id: request.id,
        ok: false,
        code: isBerthError(e) ? e.code : 'BERTH_E_EDGE_PROCESS',
        message: e.message,
        ...(e.hint === undefined ? {} : { hint: e.hint }),
        ...(err instanceof ListenError ? { listen: listenFailure(err) } : {}),
      };
    }
    if (connection === client) send(response);
  };

  const control = createServer((connection) => {
    // A new daemon takes over from the last one, which is told so.
    if (client !== null && !client.destroyed) client.end(encodeLine({ event: 'replaced' }));
    client = connection;
    const decoder = new LineDecoder();
    connection.on('data', (chunk: Buffer) => {
      for (const decoded of decoder.push(chunk)) {
        const request = decoded.ok ? asRequest(decoded.value) : null;
        if (request === null) {
          log(`edge control: ${decoded.ok ? 'not a request' : decoded.reason === 'oversized' ? 'a line over the size bound' : 'a line that is not JSON'} from the control client`);
          if (decoder.broken) connection.destroy();
          continue;
        }
        void answer(connection, request);
        // What was kept while nobody listened goes to the client once it has introduced itself.
        if (request.type === 'hello') for (const batch of backlog.take(lastConnections)) send({ event: 'observations', batch });
      }
    });
    connection.on('error', () => {});
    connection.once('close', () => {
      if (client === connection) client = null;
    });
  });
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    removeName(socketPath);
    control.listen(socketPath, () => {
      control.off('error', reject);
      resolve();
    });
  });
  // A socket is made 0777 less the umask (0700 here); 0600 says plainly it is for reading and writing by root only.
  chmodSync(socketPath, 0o600);
  socketInode = lstatSync(socketPath).ino;
  control.on('error', (err) => log(`edge control socket: ${err.message}`));

  const unconfigured = setInterval(() => {
    if (!listening && client === null && !leaving) void leave(0, false, false);
  }, UNCONFIGURED_EXIT_MS);
  unconfigured.unref();

  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void leave(10_000, false, false));
  // Detached in its own session: a hangup is not ours.
  process.on('SIGHUP', () => {});
  // Keeps the process alive until leave() ends it.
  await new Promise<void>(() => {});
}

function listenFailure(err: ListenError): { host: string | undefined; port: number; reason: string; secure: boolean } {
  const at = err.address.lastIndexOf(':');
  const host = err.address.slice(0, at);
  return { host: host === '*' ? undefined : host, port: Number(err.address.slice(at + 1)), reason: err.reason, secure: err.secure };
}

let migrationSaid = false;

/**
 * Connections the kernel queued on a retiring edge's sockets (accepted by
 * TCP, not yet by the edge) would be reset when those sockets close; with
 * net.ipv4.tcp_migrate_req=1 (Linux ≥ 5.14) they move to another socket
 * of the same SO_REUSEPORT group: the successor's. Only root may set it.
 */
function allowQueuedMigration(log: (line: string) => void): void {
  if (process.geteuid?.() !== 0) return;
  try {
    if (readFileSync(MIGRATE_REQ, 'utf8').trim() === '1') return;
    writeFileSync(MIGRATE_REQ, '1');
    if (!migrationSaid) log('edge: set net.ipv4.tcp_migrate_req=1, so connections queued on a retiring edge\'s sockets move to its successor instead of being reset');
    migrationSaid = true;
  } catch (err) {
    log(`edge: cannot set net.ipv4.tcp_migrate_req (${(err as Error).message}): connections queued on the retiring edge's sockets may be reset`);
  }
}
