import type { ProcessType } from '../build/index.ts';
import { BerthError } from '../errors.ts';
import { Formation, systemClock, type Clock, type InstanceRecord, type ReadyUpstream } from './formation.ts';
import type { RunAs } from './instance.ts';
import type { Adopter, Launcher } from './launcher.ts';
import { judgeRollout } from './rollout-policy.ts';

/** Everything needed to run one release of an app. */
export interface ReleaseSpec {
  /** For logs and errors: `v3`. */
  readonly name: string;
  readonly dir: string;
  readonly processes: readonly ProcessType[];
  readonly scale: Readonly<Record<string, number>>;
  readonly env: Readonly<Record<string, string>>;
  readonly user?: RunAs | null;
  readonly healthPath: string | null;
  /** How its instances are started (the app's sandbox); plainly when absent. */
  readonly launcher?: Launcher;
  /** Ports for its web instances (a sandbox has ports of its own); free ports of the machine when absent. */
  readonly choosePort?: () => Promise<number>;
  /** Takes over its instances a previous daemon started (the app's sandbox); plain process groups when absent. */
  readonly adopter?: Adopter;
  /** Where its instances' output files go (they outlive the daemon); absent: pipes. */
  readonly outputDir?: string;
}

export interface ReleaseRunnerOptions<S extends ReleaseSpec = ReleaseSpec> {
  /**
   * Puts exactly these upstreams of this release in the app's routes (with
   * whatever else of the release the routes need, such as its static
   * folders), resolving once in force everywhere.
   */
  readonly publish: (upstreams: readonly ReadyUpstream[], release: S) => Promise<void>;
  /** Waits until the edge has no request in flight to this upstream, or the deadline. */
  readonly drain: (upstream: ReadyUpstream, deadline: number) => Promise<void>;
  readonly log: (source: string, line: string, stream: 'out' | 'err' | 'event') => void;
  readonly graceMs: number;
  /** A release has this long to become ready before its rollout fails. */
  readonly readyTimeoutMs: number;
  readonly clock?: Clock;
  /** The serving release's instances as a later daemon would take them over, whenever they change. */
  readonly onRecords?: (records: readonly InstanceRecord[], release: S) => void;
}

/** How often a rollout looks at its instances: each step of waiting is added to every start. */
const POLL_MS = 10;

/**
 * Runs an app's current release and replaces it without downtime: the new
 * release's instances start beside the old ones, and only when every one is
 * ready does traffic move, atomically, to the new set; then the old
 * instances drain and stop. A release that fails to become ready never
 * takes traffic: its instances are stopped, the old release keeps serving,
 * and the error carries the new instances' last output lines.
 */
export class ReleaseRunner<S extends ReleaseSpec = ReleaseSpec> {
  readonly #options: ReleaseRunnerOptions<S>;
  readonly #clock: Clock;
  #current: { spec: S; formation: Formation } | null = null;
  /** A release being rolled out (started, not yet serving). */
  #starting: Formation | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(options: ReleaseRunnerOptions<S>) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** The release now serving, if any. */
  get current(): S | null {
    return this.#current?.spec ?? null;
  }

  get formation(): Formation | null {
    return this.#current?.formation ?? null;
  }

  /** Rolls out `spec`; resolves once it serves, rejects (changing nothing) if it cannot. */
  activate(spec: S): Promise<void> {
    const run = this.#queue.then(() => this.#activate(spec));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #activate(spec: S): Promise<void> {
    if (this.#stopped) throw new BerthError('BERTH_E_RELEASE_FAILED', `cannot start ${spec.name}: the app is stopping`);
    const formation = this.#formation(spec);
    const startedAt = this.#clock.now();
    this.#starting = formation;
    try {
      await this.#rollOut(spec, formation, startedAt);
    } finally {
      this.#starting = null;
    }
    const previous = this.#current;
    this.#current = { spec, formation };
    // The switch: from this moment every engine sends requests to the new instances only.
    await this.#options.publish(formation.readyUpstreams(), spec);
    this.#options.onRecords?.(formation.records(), spec);
    // The old instances are out of the routes: let their requests finish, then stop them.
    if (previous !== null) await previous.formation.stop();
  }

  /**
   * Takes over `spec`'s instances a previous daemon left running (`records`,
   * their processes verified by the caller) as the serving release, at
   * once: what is taken over is published as it is, missing instances
   * start as usual. When what was taken over was started otherwise than
   * `spec` says (berth itself changed), a rolling restart follows, queued
   * behind the takeover (resolving does not wait for it).
   */
  resume(spec: S, records: readonly InstanceRecord[]): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#stopped) throw new BerthError('BERTH_E_RELEASE_FAILED', `cannot take ${spec.name} over: the app is stopping`);
      const formation = this.#formation(spec);
      this.#current = { spec, formation };
      const { current } = await formation.start(records);
      await this.#options.publish(formation.readyUpstreams(), spec);
      return current;
    });
    this.#queue = run.catch(() => {});
    return run.then((current) => {
      if (current) return;
      this.#options.log('berth', `${spec.name}'s instances were started by an earlier berth with other settings: replacing them without downtime`, 'event');
      this.activate(spec).catch((err: Error) => this.#options.log('berth', `${spec.name} could not be restarted with the current settings: ${err.message}`, 'event'));
    });
  }

  #formation(spec: S): Formation {
    const formation: Formation = new Formation({
      cwd: spec.dir,
      processes: spec.processes,
      scale: spec.scale,
      env: spec.env,
      user: spec.user ?? null,
      healthPath: spec.healthPath,
      ...(spec.launcher ? { launcher: spec.launcher } : {}),
      ...(spec.choosePort ? { choosePort: spec.choosePort } : {}),
      graceMs: this.#options.graceMs,
      clock: this.#clock,
      log: (source, line, stream) => this.#options.log(source, line, stream),
      // Only the serving release publishes: before the switch the new
      // instances' readiness is followed here, and once replaced, the old
      // release's draining must not empty the routes.
      onUpstreams: (ready) => {
        if (this.#current?.formation !== formation) return;
        return this.#options.publish(ready, spec).catch((err: Error) => this.#options.log('berth', `cannot update routes: ${err.message}`, 'event'));
      },
      drain: (upstream, deadline) => this.#options.drain(upstream, deadline),
      ...(spec.adopter ? { adopter: spec.adopter } : {}),
      ...(spec.outputDir ? { outputDir: spec.outputDir } : {}),
      // Only the serving release's instances are worth taking over: a release being rolled out when the daemon goes was never switched to.
      onRecords: (records) => {
        if (this.#current?.formation === formation) this.#options.onRecords?.(records, spec);
      },
    });
    return formation;
  }

  /** Waits until the new formation may take traffic; stops it and throws when it cannot, or when the app stops meanwhile. */
  async #rollOut(spec: S, formation: Formation, startedAt: number): Promise<void> {
    await formation.start();
    for (;;) {
      if (this.#stopped) {
        // Stopping: a release that does not serve yet never will.
        await formation.stop();
        throw new BerthError('BERTH_E_RELEASE_FAILED', `${spec.name} did not start: the app is stopping`, { status: 503 });
      }
      const verdict = judgeRollout(formation.rolloutView(), startedAt, this.#clock.now(), this.#options.readyTimeoutMs);
      if (verdict.kind === 'ready') break;
      if (verdict.kind === 'failed') {
        const output = formation.recentOutput();
        await formation.stop();
        throw new BerthError('BERTH_E_RELEASE_FAILED', `${spec.name} did not become ready: ${verdict.reason}`, {
          hint: output.length > 0 ? `last output:\n${output.slice(-20).join('\n')}` : 'it printed nothing; check that it listens on $PORT',
          status: 422,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /**
   * Stops the serving release's instances and takes them out of the routes
   * (no upstream: the edge answers 503), keeping the runner: the next
   * activate starts a release again. For an app held (over its disk limit).
   */
  pause(): Promise<void> {
    const run = this.#queue.then(async () => {
      const current = this.#current;
      if (current === null) return;
      this.#current = null;
      await this.#options.publish([], current.spec);
      await current.formation.stop();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Drains and stops the serving release; idempotent. From the first call no
   * release starts any more, and one being rolled out is stopped, so nothing
   * of this app runs once it resolves.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#queue;
    await this.#current?.formation.stop();
  }

  /**
   * The daemon stops and leaves the apps running: no release starts any
   * more, one being rolled out is stopped (it never served), and the
   * serving release's instances are let go. Resolves with what a later
   * daemon needs to take them over.
   */
  async detach(): Promise<{ release: S; records: InstanceRecord[] } | null> {
    this.#stopped = true;
    await this.#queue;
    const current = this.#current;
    if (current === null) return null;
    return { release: current.spec, records: await current.formation.detach() };
  }

  /** Last resort (the daemon is forced out): SIGKILL every instance, serving or starting, now. */
  kill(): void {
    this.#stopped = true;
    this.#starting?.kill();
    this.#current?.formation.kill();
  }
}
