import { diskDecision, overLimitMessage, underLimitMessage, type DiskState, type DiskUsage } from './policy.ts';
import type { DiskFolders } from './usage.ts';

// The periodic look at every app's disk: measured one app at a time (du
// over a big tree is the cost, not the count of apps), the latest usage
// kept for `berth apps info`, the dashboard and the metrics, and an app
// over its limit stopped until it is under again.

export interface DiskWatchOptions {
  readonly intervalMs: number;
  /** The apps to look at now. */
  readonly apps: () => readonly string[];
  readonly folders: (app: string) => DiskFolders;
  /** The app's limit now (its current release's berth.toml, else the server's default); null: none; undefined: not known yet (nothing of it has run), so nothing is decided. */
  readonly limit: (app: string) => number | null | undefined;
  readonly measure: (folders: DiskFolders) => Promise<DiskUsage>;
  /** Stops the app's instances and its build; the message says why. */
  readonly stop: (app: string, message: string) => Promise<void>;
  /** Starts them again. */
  readonly resume: (app: string, message: string) => Promise<void>;
  readonly log: (line: string) => void;
}

export interface DiskStatus {
  /** The latest measurement (null before the first). */
  readonly usage: DiskUsage | null;
  readonly limitBytes: number | null;
  /** over: its instances are stopped for disk. */
  readonly state: DiskState;
}

export class DiskWatch {
  readonly #options: DiskWatchOptions;
  readonly #status = new Map<string, { usage: DiskUsage | null; state: DiskState }>();
  #timer: NodeJS.Timeout | null = null;
  #round: Promise<void> | null = null;
  #closed = false;

  constructor(options: DiskWatchOptions) {
    this.#options = options;
  }

  /** Looks at every app now, then every interval. */
  start(): void {
    if (this.#timer !== null || this.#closed) return;
    const tick = () => {
      this.#timer = null;
      void this.check().finally(() => {
        if (!this.#closed) this.#timer = setTimeout(tick, this.#options.intervalMs).unref();
      });
    };
    tick();
  }

  /** One look at every app (a look under way is shared). */
  check(): Promise<void> {
    if (this.#round !== null) return this.#round;
    const round = (async () => {
      for (const app of this.#options.apps()) {
        if (this.#closed) return;
        await this.checkApp(app).catch((err: Error) => this.#options.log(`disk: cannot check ${app}: ${err.message}`));
      }
    })();
    this.#round = round;
    void round.finally(() => {
      if (this.#round === round) this.#round = null;
    });
    return round;
  }

  /** Measures one app and acts on what it finds; its usage. */
  async checkApp(app: string): Promise<DiskUsage> {
    const usage = await this.measure(app);
    const entry = this.#status.get(app) ?? { usage, state: 'under' as DiskState };
    const limit = this.#options.limit(app);
    if (limit === undefined) {
      this.#status.set(app, entry);
      return usage;
    }
    const decision = diskDecision(entry.state, usage.totalBytes, limit);
    entry.state = decision.state;
    this.#status.set(app, entry);
    if (decision.action === 'stop') await this.#options.stop(app, overLimitMessage(app, usage, limit!));
    if (decision.action === 'resume') await this.#options.resume(app, underLimitMessage(app, usage, limit!));
    return usage;
  }

  /** Measures one app and keeps the result, without acting on it (a deploy's own check). */
  async measure(app: string): Promise<DiskUsage> {
    const usage = await this.#options.measure(this.#options.folders(app));
    const entry = this.#status.get(app);
    if (entry === undefined) this.#status.set(app, { usage, state: 'under' });
    else entry.usage = usage;
    return usage;
  }

  /** The app now fits (a deploy raised its limit or freed room): counted as under, its instances started by the caller. */
  markUnder(app: string): void {
    const entry = this.#status.get(app);
    if (entry !== undefined) entry.state = 'under';
  }

  status(app: string): DiskStatus {
    const entry = this.#status.get(app);
    return { usage: entry?.usage ?? null, limitBytes: this.#options.limit(app) ?? null, state: entry?.state ?? 'under' };
  }

  forget(app: string): void {
    this.#status.delete(app);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#round;
  }
}
