import { hostname as machineHostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import type { LogLine } from './app-log.ts';
import { DEFAULT_DRAIN_LIMITS, MAX_DRAINS_PER_APP, parseDrainUrl, redactDrainUrl, type Drain, type DrainKind, type DrainLimits, type DrainLine, type DrainStatus, type DrainTarget } from './drain-policy.ts';
import { HttpsDrain } from './https-drain.ts';
import type { AppLogs, AppLogWatcher } from './app-states.ts';
import type { LogDrainRecord } from './records.ts';
import type { Store } from './store.ts';
import { SyslogDrain } from './syslog-drain.ts';

// Every app's log drains: the drains stored for it (log_drains), each a
// SyslogDrain or an HttpsDrain, fed every line of the app's output log and
// its access log as the lines happen. The platform tells this when an app's
// logs come to exist (attach) and when the app goes (detach); drains added
// before that wait for the logs.

export interface LogDrainsOptions {
  readonly store: Pick<Store, 'addDrain' | 'listDrains' | 'removeDrain'>;
  /** The daemon's log: a drain's failures, recoveries and drops, named by id and redacted URL. */
  readonly log: (line: string) => void;
  /** HOSTNAME in syslog messages; default: this machine's name. */
  readonly hostname?: string;
  readonly limits?: Partial<DrainLimits>;
  /** For tests: a CA to trust besides the default (operators set NODE_EXTRA_CA_CERTS for the daemon). */
  readonly ca?: string;
}

/** A drain as `berth drains list` shows it: never its URL, only the redacted form. */
export interface DrainView extends DrainStatus {
  readonly id: number;
  readonly kind: DrainKind;
  readonly url: string;
  readonly createdAt: string;
}

interface AppDrains {
  logs: AppLogs | null;
  readonly drains: Map<number, { readonly record: LogDrainRecord; readonly drain: Drain }>;
  unfollow: (() => void) | null;
}

export class LogDrains implements AppLogWatcher {
  readonly #options: LogDrainsOptions;
  readonly #hostname: string;
  readonly #apps = new Map<string, AppDrains>();
  #closed = false;

  constructor(options: LogDrainsOptions) {
    this.#options = options;
    this.#hostname = options.hostname ?? machineHostname();
  }

  /** The app's logs exist: its stored drains start and follow them. */
  attach(app: string, logs: AppLogs): void {
    if (this.#closed) return;
    const entry = this.#entry(app);
    entry.logs = logs;
    this.#follow(app, entry);
  }

  /** The app goes: its drains stop at once (their queues are dropped) and its logs are let go. */
  async detach(app: string): Promise<void> {
    const entry = this.#apps.get(app);
    if (entry === undefined) return;
    this.#apps.delete(app);
    entry.unfollow?.();
    await Promise.all([...entry.drains.values()].map(({ drain }) => drain.close(0)));
  }

  /** Adds a drain (checked, stored, started); answers it as listed. */
  add(app: string, url: string): DrainView {
    const target = parseDrainUrl(url);
    const record = this.#options.store.addDrain(app, url, MAX_DRAINS_PER_APP);
    const entry = this.#entry(app);
    if (!entry.drains.has(record.id)) entry.drains.set(record.id, { record, drain: this.#start(record, target) });
    this.#follow(app, entry);
    return this.#view(record, entry.drains.get(record.id)!.drain, target.kind);
  }

  /** Removes a drain; what it still held is dropped. */
  async remove(app: string, id: number): Promise<DrainView> {
    const record = this.#options.store.removeDrain(app, id);
    const entry = this.#apps.get(app);
    const running = entry?.drains.get(id);
    const kind = parseDrainUrl(record.url).kind;
    if (entry !== undefined && running !== undefined) {
      entry.drains.delete(id);
      if (entry.drains.size === 0) {
        entry.unfollow?.();
        entry.unfollow = null;
      }
      await running.drain.close(0);
      return this.#view(record, running.drain, kind);
    }
    return this.#view(record, null, kind);
  }

  list(app: string): DrainView[] {
    const entry = this.#apps.get(app);
    return this.#options.store.listDrains(app).map((record) => {
      const running = entry?.drains.get(record.id)?.drain ?? null;
      return this.#view(record, running, parseDrainUrl(record.url).kind);
    });
  }

  /** Gives every drain up to its limit's closeMs to send what it holds, then closes them all. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#apps.values()];
    this.#apps.clear();
    for (const entry of entries) entry.unfollow?.();
    await Promise.all(entries.flatMap((entry) => [...entry.drains.values()].map(({ drain }) => drain.close(this.#options.limits?.closeMs ?? DEFAULT_DRAIN_LIMITS.closeMs))));
  }

  /** The app's entry, its drains loaded from the store the first time. */
  #entry(app: string): AppDrains {
    let entry = this.#apps.get(app);
    if (entry === undefined) {
      entry = { logs: null, drains: new Map(), unfollow: null };
      this.#apps.set(app, entry);
      for (const record of this.#options.store.listDrains(app)) {
        try {
          entry.drains.set(record.id, { record, drain: this.#start(record, parseDrainUrl(record.url)) });
        } catch (err) {
          this.#options.log(`${app}: log drain ${record.id} cannot be used: ${(err as Error).message}`);
        }
      }
    }
    return entry;
  }

  /** Follows the app's logs once it has logs and drains. */
  #follow(app: string, entry: AppDrains): void {
    if (entry.unfollow !== null || entry.logs === null || entry.drains.size === 0) return;
    const fanOut = (kind: DrainLine['kind']) => (line: LogLine) => {
      const drainLine: DrainLine = { app, kind, at: line.at, source: line.source, text: line.text, stream: line.stream };
      for (const { drain } of entry.drains.values()) drain.send(drainLine);
    };
    const stopOutput = entry.logs.output.follow(fanOut('output'));
    const stopAccess = entry.logs.access.follow(fanOut('access'));
    entry.unfollow = () => {
      stopOutput();
      stopAccess();
    };
  }

  #start(record: LogDrainRecord, target: DrainTarget): Drain {
    const name = `${record.app}: log drain ${record.id} (${redactDrainUrl(record.url)})`;
    const report = (message: string) => this.#options.log(`${name}: ${message}`);
    const common = { app: record.app, target, report, ...(this.#options.limits ? { limits: this.#options.limits } : {}) };
    const ca = this.#options.ca;
    if (target.kind === 'https') return new HttpsDrain({ ...common, ...(ca === undefined ? {} : { tls: { ca } }) });
    const tls: ConnectionOptions | undefined = ca === undefined ? undefined : { ca };
    return new SyslogDrain({ ...common, hostname: this.#hostname, ...(tls ? { tls } : {}) });
  }

  #view(record: LogDrainRecord, drain: Drain | null, kind: DrainKind): DrainView {
    const status: DrainStatus = drain?.status() ?? { state: 'idle', sent: 0, dropped: 0, lastError: null, lastErrorAt: null };
    return { id: record.id, kind, url: redactDrainUrl(record.url), createdAt: record.createdAt, ...status };
  }
}
