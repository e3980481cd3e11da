import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// What the platform did: builds and deploys with their outcomes and
// durations (counted as the platform reports them), and how many apps exist
// (read at scrape time).

/** A build or a deploy that ended (the platform's `onEvent`). */
export interface FinishedWork {
  readonly kind: 'build' | 'deploy';
  readonly app: string;
  readonly outcome: 'succeeded' | 'failed';
  readonly seconds: number;
}

/** Builds take seconds to many minutes (the default build timeout is 15 min). */
const BUILD_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800];
/** A deploy is an upload, a build and a rollout. */
const DEPLOY_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800];

const OUTCOMES = ['succeeded', 'failed'] as const;

export class PlatformMetrics {
  readonly #builds: Counter<'app' | 'outcome'>;
  readonly #buildSeconds: Histogram<'app'>;
  readonly #deploys: Counter<'app' | 'outcome'>;
  readonly #deploySeconds: Histogram<'app'>;
  readonly #apps = new Set<string>();

  constructor(register: Registry, options: { readonly appCount: () => number }) {
    const registers = [register];
    this.#builds = new Counter({ name: 'berth_builds_total', help: 'Builds that ended, by app and outcome.', labelNames: ['app', 'outcome'], registers });
    this.#buildSeconds = new Histogram({ name: 'berth_build_duration_seconds', help: 'How long builds took (queue wait excluded), by app.', labelNames: ['app'], buckets: BUILD_BUCKETS, registers });
    this.#deploys = new Counter({ name: 'berth_deploys_total', help: 'Deploys that ended, by app and outcome.', labelNames: ['app', 'outcome'], registers });
    this.#deploySeconds = new Histogram({ name: 'berth_deploy_duration_seconds', help: 'How long deploys took, from the upload to serving (or failing), by app.', labelNames: ['app'], buckets: DEPLOY_BUCKETS, registers });
    const appCount = options.appCount;
    new Gauge({
      name: 'berth_apps',
      help: 'Apps on this server.',
      registers,
      collect() {
        this.set(appCount());
      },
    });
  }

  record(work: FinishedWork): void {
    const app = work.app;
    if (!this.#apps.has(app)) {
      this.#apps.add(app);
      // Both outcomes exist from the first build on, so a failure ratio has a denominator before the first failure.
      for (const outcome of OUTCOMES) {
        this.#builds.inc({ app, outcome }, 0);
        this.#deploys.inc({ app, outcome }, 0);
      }
    }
    const counter = work.kind === 'build' ? this.#builds : this.#deploys;
    const histogram = work.kind === 'build' ? this.#buildSeconds : this.#deploySeconds;
    counter.inc({ app, outcome: work.outcome });
    histogram.observe({ app }, work.seconds);
  }

  /** The apps with series. */
  apps(): string[] {
    return [...this.#apps];
  }

  removeApp(app: string): void {
    if (!this.#apps.delete(app)) return;
    for (const outcome of OUTCOMES) {
      this.#builds.remove({ app, outcome });
      this.#deploys.remove({ app, outcome });
    }
    this.#buildSeconds.remove({ app });
    this.#deploySeconds.remove({ app });
  }
}
