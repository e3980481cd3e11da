import { collectDefaultMetrics, Registry } from 'prom-client';
import { EdgeMetrics, UNROUTED_APP, type EngineBatch } from './edge-metrics.ts';
import { InstanceMetrics, type RunningApp } from './instance-metrics.ts';
import { PlatformMetrics, type AppDisk, type BackupTimes, type FinishedBackup, type FinishedWork } from './platform-metrics.ts';
import type { GroupUsage } from './proc-usage.ts';

// berth's Prometheus metrics: one Registry of its own (never prom-client's
// global default), holding what the edge saw (fed with its observation
// batches), what runs (read at scrape time), what the platform did (fed
// with its build and deploy events), and the daemon's own process: memory,
// CPU, event-loop delay, GC (prom-client's default metrics, standard names).

/** What the metrics read from the platform at scrape time. */
export interface MetricsSources {
  /** The apps that exist now. */
  apps(): readonly string[];
  /** Every app's running instances. */
  running(): readonly RunningApp[];
  /** The newest good and failed backup of every add-on (from the store). */
  backupTimes?(): readonly BackupTimes[];
  /** Every app's disk as last measured. */
  disk?(): readonly AppDisk[];
}

export interface BerthMetricsOptions {
  readonly sources: MetricsSources;
  /** Memory and CPU per process group (default: read from /proc). */
  readonly usage?: (groups: ReadonlySet<number>) => Promise<Map<number, GroupUsage>>;
  readonly now?: () => number;
  /** The daemon's process metrics (default true; tests of the rest may leave them out). */
  readonly processMetrics?: boolean;
}

export class BerthMetrics {
  readonly registry = new Registry();
  readonly #sources: MetricsSources;
  readonly #edge: EdgeMetrics;
  readonly #instances: InstanceMetrics;
  readonly #platform: PlatformMetrics;

  constructor(options: BerthMetricsOptions) {
    this.#sources = options.sources;
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.#edge = new EdgeMetrics(this.registry);
    this.#instances = new InstanceMetrics(this.registry, { running: () => options.sources.running(), usage: options.usage, now: options.now });
    this.#platform = new PlatformMetrics(this.registry, { appCount: () => options.sources.apps().length, backupTimes: () => options.sources.backupTimes?.() ?? [], disk: () => options.sources.disk?.() ?? [] });
  }

  /** The media type of `scrape()`'s text: Prometheus' text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** One edge engine's observation batch. */
  observe(batch: EngineBatch): void {
    this.#edge.ingest(batch);
  }

  /** A build or deploy that ended. */
  record(work: FinishedWork): void {
    this.#platform.record(work);
  }

  /** An add-on backup that ended. */
  recordBackup(backup: FinishedBackup): void {
    this.#platform.recordBackup(backup);
  }

  /** The exposition text; destroyed apps' series are dropped first. */
  async scrape(): Promise<string> {
    this.#forgetDestroyedApps();
    return this.registry.metrics();
  }

  #forgetDestroyedApps(): void {
    const existing = new Set(this.#sources.apps());
    existing.add(UNROUTED_APP);
    for (const part of [this.#edge, this.#instances, this.#platform]) {
      for (const app of part.apps()) if (!existing.has(app)) part.removeApp(app);
    }
  }
}
