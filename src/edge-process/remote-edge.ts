// The daemon's side of the edge process: finds the running edge (or starts
// one), decides to adopt it, hand over from it or replace it, configures it,
// and brings a new one back if it dies while the daemon runs.
import { lstatSync, type Stats } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { EdgeControl, EdgeLimits, ObservationBatch, RouteSpec, TlsConfig, UpstreamAddress } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import { codeIdentity } from './code-identity.ts';
import { ControlClient, ControlClosed } from './control-client.ts';
import { decideEdgeStart } from './decide.ts';
import { edgePaths, ensurePrivateFolder, isRunning, processStartTime, removeName, type EdgePaths } from './files.ts';
import type { EdgeContent, EdgeSettings, Hello, ListenAddress } from './protocol.ts';
import { endProcess, startEdge, STOP_MARGIN_MS, type ListenPlan, type Running } from './spawn.ts';

export interface RemoteEdgeOptions {
  readonly stateDir: string;
  readonly http: ListenAddress;
  readonly https?: ListenAddress | null;
  readonly workers?: number;
  readonly limits?: Partial<EdgeLimits>;
  /** Keep a record of every exchange (default true): `berth server` writes them to the apps' access logs. */
  readonly accessRecords?: boolean;
  readonly log: (line: string) => void;
  readonly onObservations?: (batch: ObservationBatch) => void;
  /** Stands for a different build of the edge's code (tests and benches of a handover). */
  readonly codeSalt?: string;
  /** Before a handover, let the kernel move connections queued on the old edge's sockets to the new one (default true; needs root). */
  readonly migrateQueued?: boolean;
  /** How long a retiring edge lets requests in flight finish (default 10 s). */
  readonly retireGraceMs?: number;
}


/**
 * The edge process as the daemon controls it. `open()` connects to the
 * running edge or starts one; `detach()` leaves it serving (a control-plane
 * stop); `stop()` ends it (a full stop).
 */
export class RemoteEdge implements EdgeControl {
  readonly #options: RemoteEdgeOptions;
  readonly #paths: EdgePaths;
  readonly #settings: EdgeSettings;
  #running: Running;
  #content: { routes: RouteSpec | null; tls: TlsConfig | null; challenges: ReadonlyMap<string, string> | null } = { routes: null, tls: null, challenges: null };
  #released = false;
  /** This daemon started the edge (none was serving): a start that fails ends it again. */
  readonly spawned: boolean;
  /** Settles when the edge in charge is connected again after a crash. */
  #recovering: Promise<void> | null = null;

  private constructor(options: RemoteEdgeOptions, paths: EdgePaths, settings: EdgeSettings, running: Running, content: EdgeContent | null, spawned: boolean) {
    this.spawned = spawned;
    this.#options = options;
    // What the edge serves already (adopted or handed over): what a new one gets if it dies before the platform sets its own.
    if (content !== null) this.#content = { routes: content.routes, tls: content.tls, challenges: new Map(content.challenges) };
    this.#paths = paths;
    this.#settings = settings;
    this.#running = running;
    this.#watch(running.client);
  }

  static async open(options: RemoteEdgeOptions): Promise<RemoteEdge> {
    const paths = edgePaths(options.stateDir);
    ensurePrivateFolder(paths.runDir);
    ensurePrivateFolder(paths.logDir);
    const settings: EdgeSettings = {
      http: options.http,
      https: options.https ?? null,
      workers: options.workers ?? null,
      limits: options.limits ?? {},
      accessRecords: options.accessRecords ?? true,
    };
    const code = codeIdentity(options.codeSalt ?? '');
    const found = await connectVerified(paths);
    const decision = decideEdgeStart(found?.hello ?? null, { code, settings });
    const log = options.log;
    const start = (content: EdgeContent | null, at: ListenPlan) => startEdge(options, paths, settings, content, at);
    let running: Running;
    let content: EdgeContent | null = null;
    switch (decision) {
      case 'spawn':
        running = await start(null, fresh(settings));
        log(`edge: started the edge process (pid ${running.hello.pid})`);
        break;
      case 'adopt':
        running = found!;
        if (!running.hello.listening) running = { client: running.client, hello: await running.client.call<Hello>({ type: 'listen', ...fresh(settings) }, 60_000) };
        content = await running.client.call<EdgeContent>({ type: 'content' });
        log(`edge: adopted the running edge process (pid ${running.hello.pid}); it keeps its routes until the platform sets them`);
        break;
      case 'hand-over':
      case 'replace': {
        const old = found!;
        content = old.hello.listening ? await old.client.call<EdgeContent>({ type: 'content' }) : null;
        // An address both want is joined (its SO_REUSEPORT group), not fought over; others are bound afresh.
        const plan = old.hello.listening ? joining(settings, old.hello) : fresh(settings);
        try {
          running = await start(content, plan);
        } catch (err) {
          if (decision === 'replace') {
            old.client.close();
            throw err;
          }
          log(`edge: the new edge process did not start (${(err as Error).message}); the running one (pid ${old.hello.pid}) keeps serving`);
          running = old;
          break;
        }
        await old.client.call({ type: old.hello.listening ? 'retire' : 'stop', graceMs: options.retireGraceMs ?? 10_000, migrateQueued: options.migrateQueued ?? true });
        old.client.close();
        log(`edge: ${decision === 'hand-over' ? 'handed over' : 'moved'} from edge process ${old.hello.pid} to ${running.hello.pid} (${decision === 'hand-over' ? "the edge's code or settings changed" : 'other addresses'})`);
        break;
      }
    }
    return new RemoteEdge(options, paths, settings, running, content, decision === 'spawn');
  }

  get address(): AddressInfo | null {
    return toAddressInfo(this.#running.hello.address);
  }

  get httpsAddress(): AddressInfo | null {
    return toAddressInfo(this.#running.hello.httpsAddress);
  }

  /** The edge process serving now. */
  get pid(): number {
    return this.#running.hello.pid;
  }

  async setRoutes(spec: RouteSpec): Promise<void> {
    this.#content.routes = spec;
    // An edge that dies meanwhile gets the last routes when it comes back: that is this update too.
    await this.#call({ type: 'setRoutes', spec }, undefined);
  }

  async drain(upstream: UpstreamAddress, deadline: number): Promise<void> {
    // A new edge has nothing in flight to anything.
    await this.#call({ type: 'drain', host: upstream.host, port: upstream.port, deadline }, undefined, Math.max(0, deadline - Date.now()) + 10_000);
  }

  async purge(hosts: readonly string[], path: string | null): Promise<number> {
    return (await this.#call<number>({ type: 'purge', hosts, path }, 0)) ?? 0;
  }

  setTls(config: TlsConfig): void {
    this.#content.tls = config;
    this.#call({ type: 'setTls', config }, undefined).catch((err: Error) => this.#options.log(`edge: certificates not applied: ${err.message}`));
  }

  setChallenges(tokens: ReadonlyMap<string, string>): void {
    this.#content.challenges = new Map(tokens);
    this.#call({ type: 'setChallenges', tokens: [...tokens] }, undefined).catch((err: Error) => this.#options.log(`edge: ACME challenges not applied: ${err.message}`));
  }

  /** Lets the edge go on serving without this daemon (a control-plane stop). */
  detach(): void {
    this.#released = true;
    this.#running.client.close();
  }

  /** Stops the edge process (a full stop); resolves once it is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#released = true;
    await this.#recovering?.catch(() => {});
    const { client, hello } = this.#running;
    await client.call({ type: 'stop', graceMs }, graceMs + STOP_MARGIN_MS).catch(() => {});
    await endProcess({ pid: hello.pid, startTime: hello.startTime }, graceMs + STOP_MARGIN_MS);
    client.close();
  }

  /** Ends the edge process at once (a forced exit of the daemon). */
  kill(): void {
    this.#released = true;
    const { pid, startTime } = this.#running.hello;
    if (!isRunning({ pid, startTime })) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }

  /**
   * A request to the edge in charge. When the edge dies before answering,
   * the one brought back gets the last routes, certificates and challenges:
   * the call resolves with `recovered`.
   */
  async #call<T>(request: Parameters<ControlClient['call']>[0], recovered: T, timeoutMs?: number): Promise<T> {
    for (let attempt = 0; attempt < 2; attempt++) {
      await this.#recovering;
      // Let go or stopping: as with a closing Edge, nothing more to route, drain or purge.
      if (this.#released) return recovered;
      try {
        return await this.#running.client.call<T>(request, timeoutMs);
      } catch (err) {
        if (!(err instanceof ControlClosed)) throw err;
        // The close handler is starting the recovery (it runs first: the close event came before this rejection).
        if (this.#recovering === null) throw err;
        if (attempt === 1 || request.type !== 'purge') {
          await this.#recovering;
          return recovered;
        }
      }
    }
    return recovered;
  }

  #watch(client: ControlClient): void {
    client.onEvent = (event) => {
      if (event.event === 'log') this.#options.log(event.line);
      else if (event.event === 'observations') this.#options.onObservations?.(event.batch);
    };
    client.onClose = () => {
      if (this.#released || client !== this.#running.client) return;
      const gone = this.#running.hello;
      if (client.replaced) {
        this.#options.log(`edge: another control client took the edge process (pid ${gone.pid}); this daemon no longer controls it`);
        this.#released = true;
        return;
      }
      this.#recovering = (async () => {
        // A process closes its files before the kernel calls it gone: give it a moment to be seen dead.
        const record = { pid: gone.pid, startTime: gone.startTime };
        for (const deadline = Date.now() + 1_000; isRunning(record) && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 10));
        if (isRunning(record)) {
          // Alive, and someone else's now: another daemon connected to it.
          this.#options.log(`edge: another control client took the edge process (pid ${gone.pid}); this daemon no longer controls it`);
          this.#released = true;
          return;
        }
        await this.#recover(gone);
      })().finally(() => {
        this.#recovering = null;
      });
    };
  }

  /** The edge died under a running daemon: a new one on the same ports, with everything the daemon last gave. */
  async #recover(gone: Hello): Promise<void> {
    const began = Date.now();
    // Its ports closed with it: a fresh listen on the ports it had (which also refuses one something else took meanwhile).
    const at: ListenPlan = { http: boundAt(this.#settings.http, gone.address), https: this.#settings.https === null ? null : boundAt(this.#settings.https, gone.httpsAddress), join: { http: false, https: false } };
    const content: EdgeContent = {
      routes: this.#content.routes ?? { hosts: {}, fallback: null },
      tls: this.#content.tls ?? { certificates: [], fallback: null },
      challenges: [...(this.#content.challenges ?? new Map<string, string>())],
    };
    for (let attempt = 1; !this.#released; attempt++) {
      try {
        const running = await startEdge(this.#options, this.#paths, this.#settings, content, at);
        if (this.#released) {
          await running.client.call({ type: 'stop', graceMs: 0 }).catch(() => {});
          running.client.close();
          return;
        }
        this.#running = running;
        this.#watch(running.client);
        this.#options.log(`edge: the edge process (pid ${gone.pid}) ended unexpectedly; started a new one (pid ${running.hello.pid}) with the last routes in ${Date.now() - began} ms`);
        return;
      } catch (err) {
        this.#options.log(`edge: the edge process (pid ${gone.pid}) ended unexpectedly and a new one did not start (attempt ${attempt}: ${(err as Error).message})`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * attempt)));
      }
    }
  }
}

/** The edge at STATE/run/edge.sock, if one answers and is the process it says it is. */
async function connectVerified(paths: EdgePaths): Promise<Running | null> {
  // connect() follows links: only a socket of ours at that very name is an edge's.
  let st: Stats;
  try {
    st = lstatSync(paths.socket);
  } catch {
    return null;
  }
  if (!st.isSocket() || st.uid !== process.geteuid?.()) {
    removeName(paths.socket);
    return null;
  }
  const client = await ControlClient.connect(paths.socket);
  if (client === null) return null;
  try {
    const hello = await client.call<Hello>({ type: 'hello' }, 5_000);
    if (processStartTime(hello.pid) !== hello.startTime) throw new Error(`it says it is pid ${hello.pid}, which is not the process it claims`);
    return { client, hello };
  } catch (err) {
    client.close();
    throw new BerthError('BERTH_E_EDGE_PROCESS', `the edge process at ${paths.socket} did not introduce itself: ${(err as Error).message}`, { hint: 'Stop it (its pid is in STATE/run/edge.json) and start berth server again.' });
  }
}


function fresh(settings: EdgeSettings): ListenPlan {
  return { http: settings.http, https: settings.https, join: { http: false, https: false } };
}

/** Joins the running edge's sockets for every address it was asked for too (port 0 included: it is the port it got). */
function joining(settings: EdgeSettings, old: Hello): ListenPlan {
  const http = sameAddress(old.settings?.http, settings.http);
  const https = settings.https !== null && sameAddress(old.settings?.https ?? undefined, settings.https);
  return {
    http: http ? boundAt(settings.http, old.address) : settings.http,
    https: settings.https === null ? null : https ? boundAt(settings.https, old.httpsAddress) : settings.https,
    join: { http, https },
  };
}

function boundAt(asked: ListenAddress, bound: { port: number } | null): ListenAddress {
  return { host: asked.host, port: bound?.port ?? asked.port };
}

function sameAddress(a: ListenAddress | undefined, b: ListenAddress): boolean {
  return a !== undefined && (a.host ?? '') === (b.host ?? '') && a.port === b.port;
}

function toAddressInfo(bound: Hello['address']): AddressInfo | null {
  return bound === null ? null : { address: bound.address, family: bound.family, port: bound.port };
}
