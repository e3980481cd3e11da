import { commandToArgv, parseCronSchedule, type CronJobConfig, type CronSchedule } from '../build/index.ts';
import { cronSlotIso, decideCronSlot, nextCronSlot, startCommand, systemClock, type Clock, type CommandOutcome, type CommandRun, type Launcher, type RunAs } from '../runner/index.ts';
import type { Store } from './store.ts';

/** What the scheduler needs of an app's serving release. */
export interface CronRelease {
  readonly version: number;
  /** The release's build directory: commands run there. */
  readonly dir: string;
  /** The environment the release's instances get. */
  readonly env: Readonly<Record<string, string>>;
  /** The app's Unix user, or null when apps run as berth's user. */
  readonly user: RunAs | null;
  readonly jobs: readonly CronJobConfig[];
  /** How its runs are started (the app's sandbox); plainly when absent. */
  readonly launcher?: Launcher;
}

/**
 * One of berth's own scheduled tasks (a scheduled backup): slots are claimed
 * in the store like [cron] jobs' under its name ("berth.backup-postgres"), so
 * one slot never runs twice, and a slot whose previous run still goes is
 * skipped, never run alongside it.
 */
export interface ScheduledTask {
  /** "berth." and a name: never a [cron] job's. */
  readonly name: string;
  readonly schedule: string;
  readonly timezone: string;
  /** Runs one slot; true when it succeeded. Reports its own failures; `signal` is raised when the daemon stops or the task is removed. */
  run(slot: string, signal: AbortSignal): Promise<boolean>;
}

/** A job as the API shows it. */
export interface CronJobView {
  readonly name: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly command: string;
  readonly timeoutMs: number | null;
  /** The next slot (ISO); null when the schedule never fires again. */
  readonly nextRun: string | null;
  /** The slot of the run going on now, or null. */
  readonly running: string | null;
}

export interface CronSchedulerOptions {
  readonly store: Pick<Store, 'claimCronSlot' | 'finishCronRun' | 'lastCronSlot'>;
  /** A line for the app's log; `source` is `cron.JOB`. */
  readonly appLog: (app: string, source: string, line: string) => void;
  /** A line for the daemon's own log. */
  readonly log: (line: string) => void;
  readonly clock?: Clock;
  /** The timer never sleeps longer than this, so a changed wall clock is noticed. */
  readonly maxSleepMs?: number;
  /** How long SIGTERMed runs get (a stopping daemon, a destroyed app) before SIGKILL. */
  readonly graceMs?: number;
  /** Why the app's jobs may not run now (it is over its disk limit), or null: its due slots are skipped with that reason. */
  readonly held?: (app: string) => string | null;
}

interface Job {
  readonly config: CronJobConfig;
  readonly schedule: CronSchedule;
  /** When this job began to be scheduled here. */
  readonly since: number;
  /** The newest slot passed over on purpose (missed, or skipped for overlap); kept in memory only. */
  passed: number | null;
}

interface TaskJob {
  readonly task: ScheduledTask;
  readonly schedule: CronSchedule;
  readonly since: number;
  passed: number | null;
}

interface AppJobs {
  readonly release: CronRelease;
  readonly jobs: ReadonlyMap<string, Job>;
}

interface Run {
  readonly app: string;
  readonly job: string;
  readonly slot: string;
  readonly process: CommandRun;
  /** Ended on purpose (daemon stop, app destroyed): the run is left for `failInterrupted` unless it succeeded. */
  stopping: boolean;
}

const key = (app: string, job: string) => `${app}\u0000${job}`;

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}

function describe(outcome: CommandOutcome, timeoutMs: number | null): string {
  if (outcome.startError !== null) return `could not start: ${outcome.startError}`;
  if (outcome.timedOut) return `hit its ${duration(timeoutMs ?? 0)} timeout; its process group was killed`;
  if (outcome.signal !== null) return `ended by ${outcome.signal}`;
  return `exited with code ${outcome.exitCode}`;
}

/**
 * Runs every app's [cron] jobs in the app's serving release. One timer for
 * the whole daemon: it wakes at the earliest next slot of any job (or after
 * `maxSleepMs`), asks `decideCronSlot()` about each job, and for a due slot
 * claims it in the store before starting the command, so a slot runs at most
 * once: across releases (the claim is per app, job and slot, not per
 * release) and across daemon restarts (a run a crash cut short stays
 * claimed, and is marked interrupted on the next start).
 */
export class CronScheduler {
  readonly #options: CronSchedulerOptions;
  readonly #clock: Clock;
  readonly #maxSleepMs: number;
  readonly #apps = new Map<string, AppJobs>();
  /** At most one run per job, by `key(app, job)`; kept while it runs even if its job leaves the release. */
  readonly #runs = new Map<string, Run>();
  /** berth's own tasks per app, apart from the app's release: they outlive deploys. */
  readonly #tasks = new Map<string, Map<string, TaskJob>>();
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(options: CronSchedulerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#maxSleepMs = options.maxSleepMs ?? 60_000;
  }

  /**
   * The app's serving release changed (a deploy, a config change, a
   * rollback, a daemon start). Unchanged jobs keep their state; a job that
   * is new or whose schedule changed never fires a slot from before now.
   * Never throws: the release already serves when this is called.
   */
  setRelease(app: string, release: CronRelease): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const before = this.#apps.get(app);
    const jobs = new Map<string, Job>();
    for (const config of release.jobs) {
      const old = before?.jobs.get(config.name);
      if (old !== undefined && old.config.schedule === config.schedule && old.config.timezone === config.timezone) {
        jobs.set(config.name, { ...old, config });
        continue;
      }
      let schedule: CronSchedule;
      try {
        schedule = parseCronSchedule(config.schedule, config.timezone);
      } catch (err) {
        // Checked at build time; a release built by an older berth may still
        // hold what this one refuses. The release serves; the job does not run.
        this.#options.appLog(app, `cron.${config.name}`, `not scheduled: ${(err as Error).message}`);
        continue;
      }
      // On a daemon start the app is new here, and the store's claims tell
      // what already ran; a job added or changed while serving starts fresh.
      jobs.set(config.name, { config, schedule, since: now, passed: before === undefined ? null : schedule.latestAtOrBefore(now) });
    }
    this.#apps.set(app, { release, jobs });
    this.#arm(0);
  }

  /**
   * Replaces the app's scheduled tasks. An unchanged task keeps its state; a
   * new or rescheduled one fires no slot from before now. A task's schedule
   * is checked by the caller; one that cannot be parsed throws here.
   */
  setTasks(app: string, tasks: readonly ScheduledTask[]): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const before = this.#tasks.get(app);
    const next = new Map<string, TaskJob>();
    for (const task of tasks) {
      const old = before?.get(task.name);
      if (old !== undefined && old.task.schedule === task.schedule && old.task.timezone === task.timezone) {
        next.set(task.name, { ...old, task });
        continue;
      }
      const schedule = parseCronSchedule(task.schedule, task.timezone);
      next.set(task.name, { task, schedule, since: now, passed: before === undefined ? null : schedule.latestAtOrBefore(now) });
    }
    if (next.size === 0) this.#tasks.delete(app);
    else this.#tasks.set(app, next);
    this.#arm(0);
  }

  /** The app's scheduled tasks with their next slot and the run going on now. */
  tasks(app: string): Array<{ name: string; schedule: string; timezone: string; nextRun: string | null; running: string | null }> {
    const now = this.#clock.now();
    return [...(this.#tasks.get(app)?.values() ?? [])].map((job) => {
      const next = nextCronSlot(job.schedule, now);
      return { name: job.task.name, schedule: job.task.schedule, timezone: job.task.timezone, nextRun: next === null ? null : new Date(next).toISOString(), running: this.#runs.get(key(app, job.task.name))?.slot ?? null };
    });
  }

  /** The app is being destroyed: no more slots, its runs are stopped. */
  async removeApp(app: string): Promise<void> {
    this.#apps.delete(app);
    this.#tasks.delete(app);
    await this.#end([...this.#runs.values()].filter((run) => run.app === app));
  }

  /** Stops scheduling; SIGTERMs running commands and waits for them (SIGKILL after the grace period). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#end([...this.#runs.values()]);
  }

  jobs(app: string): CronJobView[] {
    const entry = this.#apps.get(app);
    if (entry === undefined) return [];
    const now = this.#clock.now();
    return [...entry.jobs.values()].map((job) => {
      const next = nextCronSlot(job.schedule, now);
      return {
        name: job.config.name,
        schedule: job.config.schedule,
        timezone: job.config.timezone,
        command: job.config.command,
        timeoutMs: job.config.timeoutMs,
        nextRun: next === null ? null : new Date(next).toISOString(),
        running: this.#runs.get(key(app, job.config.name))?.slot ?? null,
      };
    });
  }

  #arm(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, Math.min(delayMs, this.#maxSleepMs)));
    this.#timer.unref();
  }

  #tick(): void {
    this.#timer = null;
    if (this.#stopped) return;
    const now = this.#clock.now();
    let wake = now + this.#maxSleepMs;
    for (const [app, entry] of this.#apps) {
      for (const job of entry.jobs.values()) {
        try {
          const next = this.#consider(app, entry.release, job, now);
          if (next !== null) wake = Math.min(wake, next);
        } catch (err) {
          this.#options.log(`${app}: cron ${job.config.name}: ${(err as Error).message}`);
        }
      }
    }
    for (const [app, tasks] of this.#tasks) {
      for (const job of tasks.values()) {
        try {
          const next = this.#considerTask(app, job, now);
          if (next !== null) wake = Math.min(wake, next);
        } catch (err) {
          this.#options.log(`${app}: ${job.task.name}: ${(err as Error).message}`);
        }
      }
    }
    this.#arm(wake - this.#clock.now());
  }

  /** Decides about one job and acts; returns when to look again. */
  #consider(app: string, release: CronRelease, job: Job, now: number): number | null {
    const name = job.config.name;
    const stored = this.#options.store.lastCronSlot(app, name);
    const claimed = stored === null ? null : Date.parse(stored);
    const lastSlot = claimed === null ? job.passed : job.passed === null ? claimed : Math.max(claimed, job.passed);
    const decision = decideCronSlot({ schedule: job.schedule, lastSlot, since: job.since, running: this.#runs.has(key(app, name)) }, now);
    const held = decision.action === 'run' ? (this.#options.held?.(app) ?? null) : null;
    if (held !== null && decision.action === 'run') {
      job.passed = decision.slot;
      this.#options.appLog(app, `cron.${name}`, `skipped the ${cronSlotIso(decision.slot)} slot: ${held}`);
    } else if (decision.action === 'run') {
      this.#start(app, release, job, decision.slot);
    } else if (decision.action === 'skip') {
      job.passed = decision.slot;
      const slot = cronSlotIso(decision.slot);
      const why =
        decision.reason === 'overlap'
          ? `the run of ${this.#runs.get(key(app, name))?.slot ?? 'an earlier slot'} is still going`
          : 'it passed while berth was not running it, and it is too late to start it now';
      this.#options.appLog(app, `cron.${name}`, `skipped the ${slot} slot: ${why}`);
    }
    return decision.next;
  }

  #considerTask(app: string, job: TaskJob, now: number): number | null {
    const name = job.task.name;
    const stored = this.#options.store.lastCronSlot(app, name);
    const claimed = stored === null ? null : Date.parse(stored);
    const lastSlot = claimed === null ? job.passed : job.passed === null ? claimed : Math.max(claimed, job.passed);
    const decision = decideCronSlot({ schedule: job.schedule, lastSlot, since: job.since, running: this.#runs.has(key(app, name)) }, now);
    if (decision.action === 'run') {
      this.#startTask(app, job, decision.slot);
    } else if (decision.action === 'skip') {
      job.passed = decision.slot;
      const why = decision.reason === 'overlap' ? `the run of ${this.#runs.get(key(app, name))?.slot ?? 'an earlier slot'} is still going` : 'it passed while berth was not running';
      this.#options.appLog(app, name, `skipped the ${cronSlotIso(decision.slot)} slot: ${why}`);
    }
    return decision.next;
  }

  /** Claims the slot and runs the task; its outcome is recorded like a command's (exit code 0 or 1). */
  #startTask(app: string, job: TaskJob, slotMs: number): void {
    const name = job.task.name;
    const slot = cronSlotIso(slotMs);
    if (!this.#options.store.claimCronSlot(app, name, slot, 0)) {
      job.passed = slotMs;
      return;
    }
    const abort = new AbortController();
    const done = job.task.run(slot, abort.signal).then(
      (ok): CommandOutcome => ({ exitCode: ok ? 0 : 1, signal: null, timedOut: false, startError: null }),
      (err: unknown): CommandOutcome => {
        this.#options.appLog(app, name, `the ${slot} slot failed: ${(err as Error).message}`);
        return { exitCode: 1, signal: null, timedOut: false, startError: null };
      },
    );
    const process: CommandRun = { pid: undefined, done, terminate: () => abort.abort(), kill: () => abort.abort() };
    const run: Run = { app, job: name, slot, process, stopping: false };
    this.#runs.set(key(app, name), run);
    void done.then((outcome) => {
      if (this.#runs.get(key(app, name)) === run) this.#runs.delete(key(app, name));
      if (run.stopping && outcome.exitCode !== 0) return; // left running in the store: interrupted on the next start
      try {
        this.#options.store.finishCronRun(app, name, slot, outcome.exitCode);
      } catch (err) {
        this.#options.log(`${app}: ${name}: cannot record the ${slot} slot: ${(err as Error).message}`);
      }
    });
  }

  /** Claims the slot, then starts its command; a slot that cannot be claimed has run (or is running) elsewhere. */
  #start(app: string, release: CronRelease, job: Job, slotMs: number): void {
    const name = job.config.name;
    const slot = cronSlotIso(slotMs);
    const source = `cron.${name}`;
    const log = (line: string) => this.#options.appLog(app, source, line);
    // DYNO as Heroku Scheduler's runs have one (scheduler.JOB here): settings that branch on DYNO see a dyno.
    const env = { ...release.env, DYNO: `scheduler.${name}`, BERTH_INSTANCE: `scheduler.${name}`, BERTH_CRON_JOB: name, BERTH_CRON_SLOT: slot };
    if (!this.#options.store.claimCronSlot(app, name, slot, release.version)) {
      job.passed = slotMs;
      return;
    }
    let child: CommandRun;
    try {
      const argv = commandToArgv(job.config.command, env);
      log(`running the ${slot} slot in v${release.version}: ${job.config.command}`);
      child = startCommand(argv, { cwd: release.dir, env, onLine: log, timeoutMs: job.config.timeoutMs, user: release.user, label: `cron.${name}`, ...(release.launcher ? { launcher: release.launcher } : {}) });
    } catch (err) {
      log(`cannot run the ${slot} slot: ${(err as Error).message}`);
      this.#options.store.finishCronRun(app, name, slot, null);
      return;
    }
    const run: Run = { app, job: name, slot, process: child, stopping: false };
    const startedAt = this.#clock.now();
    this.#runs.set(key(app, name), run);
    void child.done.then((outcome) => {
      if (this.#runs.get(key(app, name)) === run) this.#runs.delete(key(app, name));
      const how = `the ${slot} slot ${describe(outcome, job.config.timeoutMs)} (ran ${duration(this.#clock.now() - startedAt)})`;
      if (run.stopping && outcome.exitCode !== 0) {
        log(`${how}; stopped by berth, it is recorded as interrupted`);
        return;
      }
      log(how);
      try {
        this.#options.store.finishCronRun(app, name, slot, outcome.exitCode);
      } catch (err) {
        this.#options.log(`${app}: cron ${name}: cannot record the ${slot} slot: ${(err as Error).message}`);
      }
    });
  }

  /** SIGTERM, wait up to the grace period, then SIGKILL; resolves once every run has ended. */
  async #end(runs: readonly Run[]): Promise<void> {
    if (runs.length === 0) return;
    for (const run of runs) {
      run.stopping = true;
      run.process.terminate();
    }
    const ended = Promise.all(runs.map((run) => run.process.done));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([ended.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.#options.graceMs ?? 10_000)))]);
    clearTimeout(timer);
    if (late) for (const run of runs) run.process.kill();
    await ended;
  }
}
