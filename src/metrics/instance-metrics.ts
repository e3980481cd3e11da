import { Counter, Gauge, type Registry } from 'prom-client';
import { readGroupUsage, type GroupUsage } from './proc-usage.ts';

// Every running instance, as the runner supervises it and as the kernel
// sees its process group: restarts, start time and uptime, resident memory
// and CPU. Read at scrape time (prom-client collect() callbacks), never on
// a timer: one snapshot serves every metric of a scrape.
//
// Labels: app, process (the Procfile type, "web") and instance_name
// ("web.1", as BERTH_INSTANCE says). Not "instance": Prometheus gives every
// scraped series an `instance` label naming the target, and a clash would
// rename ours to exported_instance.

/** One instance as the runner knows it (`Formation.vitals()`). */
export interface RunningInstance {
  readonly name: string;
  readonly type: string;
  readonly state: string;
  readonly pid: number | undefined;
  /** Epoch ms when its process started. */
  readonly startedAt: number;
  /** Its slot's unasked exits (each followed by a restart) since `generation` began. */
  readonly restarts: number;
  /** Of those, the ones the kernel caused because the instance was over its memory limit. */
  readonly oomKills?: number;
}

/** What a contained instance's control group counts, and its limits (the sandbox's; absent outside one). */
export interface ContainedUsage {
  readonly usage: { readonly memoryBytes: number; readonly cpuSeconds: number; readonly processes: number } | null;
  readonly limits: { readonly memoryBytes: number | null; readonly cpu: number | null; readonly processes: number | null } | null;
}

/** An app's running instances; `generation` is the same object while the same set of instances (one activation) runs. */
export interface RunningApp {
  readonly app: string;
  readonly generation: object;
  readonly instances: readonly RunningInstance[];
  /** Per instance name, what its sandbox's control group counts: preferred over its process group in /proc (which, in a sandbox, is only the launcher's). */
  readonly contained?: () => Promise<ReadonlyMap<string, ContainedUsage>>;
}

export interface InstanceMetricsOptions {
  readonly running: () => readonly RunningApp[];
  /** Memory and CPU per process group (default: read from /proc). */
  readonly usage?: (groups: ReadonlySet<number>) => Promise<Map<number, GroupUsage>>;
  readonly now?: () => number;
}

const LIVE_STATES = new Set(['starting', 'ready', 'draining']);

type InstanceLabel = 'app' | 'process' | 'instance_name';
type Labels = Record<InstanceLabel, string>;

interface InstanceRow {
  readonly labels: Labels;
  readonly instance: RunningInstance;
  readonly restarts: number;
  readonly usage: GroupUsage | null;
  readonly cpuSeconds: number;
  readonly oomKills: number;
  readonly limits: ContainedUsage['limits'];
}

/** Restarts summed over generations, so the counter does not fall back to 0 when a deploy brings new instances. */
interface RestartTally {
  generation: object;
  seen: number;
  total: number;
}

export class InstanceMetrics {
  readonly #options: InstanceMetricsOptions;
  readonly #now: () => number;
  /** The snapshot being taken: the registry starts every metric's collect() in one synchronous pass, so one scrape reads /proc once. */
  #snapshot: Promise<readonly InstanceRow[]> | null = null;
  readonly #restarts = new Map<string, RestartTally>();
  readonly #oomKills = new Map<string, RestartTally>();
  /** The CPU reported last per instance, and for which process: it never goes back while the same process lives. */
  readonly #cpu = new Map<string, { pid: number; seconds: number }>();

  constructor(register: Registry, options: InstanceMetricsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const registers = [register];
    const labelNames: InstanceLabel[] = ['app', 'process', 'instance_name'];
    const rows = () => this.#rows();
    new Counter({
      name: 'berth_instance_restarts_total',
      help: 'Times an instance exited without being asked to and was restarted.',
      labelNames,
      registers,
      async collect() {
        const snapshot = await rows();
        this.reset();
        for (const row of snapshot) this.inc(row.labels, row.restarts);
      },
    });
    const gauge = (name: string, help: string, value: (row: InstanceRow) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const snapshot = await rows();
          this.reset();
          for (const row of snapshot) {
            const v = value(row);
            if (v !== null) this.set(row.labels, v);
          }
        },
      });
    const live = (row: InstanceRow) => LIVE_STATES.has(row.instance.state);
    gauge('berth_instance_start_time_seconds', 'When the running instance started, in seconds since the Unix epoch.', (row) => (live(row) ? row.instance.startedAt / 1000 : null));
    gauge('berth_instance_uptime_seconds', 'How long the running instance has been up.', (row) => (live(row) ? Math.max(0, this.#now() - row.instance.startedAt) / 1000 : null));
    gauge('berth_instance_resident_memory_bytes', "Memory of the instance: its sandbox's control group charge when contained, else the resident memory of its process group.", (row) => row.usage?.rssBytes ?? null);
    gauge('berth_instance_processes', "Processes in the instance's process group.", (row) => row.usage?.processes ?? null);
    gauge('berth_instance_memory_limit_bytes', "The instance's memory limit (its sandbox's; absent when it has none).", (row) => row.limits?.memoryBytes ?? null);
    gauge('berth_instance_cpu_limit_cores', "The instance's CPU quota, in cores (absent when it has none).", (row) => row.limits?.cpu ?? null);
    gauge('berth_instance_processes_limit', "The instance's process limit (absent when it has none).", (row) => row.limits?.processes ?? null);
    new Counter({
      name: 'berth_instance_oom_kills_total',
      help: 'Times an instance was killed for going over its memory limit (and restarted).',
      labelNames,
      registers,
      async collect() {
        const snapshot = await rows();
        this.reset();
        for (const row of snapshot) this.inc(row.labels, row.oomKills);
      },
    });
    new Counter({
      name: 'berth_instance_cpu_seconds_total',
      help: "CPU time (user and system) used by the instance's process group, its reaped children included.",
      labelNames,
      registers,
      async collect() {
        const snapshot = await rows();
        this.reset();
        for (const row of snapshot) if (row.usage !== null) this.inc(row.labels, row.cpuSeconds);
      },
    });
  }

  /** The apps with tallies. */
  apps(): string[] {
    return [...new Set([...this.#restarts.keys(), ...this.#cpu.keys()].map((key) => key.slice(0, key.indexOf('\0'))))];
  }

  /** Forgets a destroyed app's tallies (its series go with the next scrape, as it no longer runs). */
  removeApp(app: string): void {
    const prefix = `${app}\0`;
    for (const key of [...this.#restarts.keys()]) if (key.startsWith(prefix)) this.#restarts.delete(key);
    for (const key of [...this.#oomKills.keys()]) if (key.startsWith(prefix)) this.#oomKills.delete(key);
    for (const key of [...this.#cpu.keys()]) if (key.startsWith(prefix)) this.#cpu.delete(key);
  }

  #rows(): Promise<readonly InstanceRow[]> {
    if (this.#snapshot === null) {
      const snapshot = this.#take();
      this.#snapshot = snapshot;
      // Shared by the collects of this scrape only; the next scrape reads afresh.
      const done = () => {
        if (this.#snapshot === snapshot) this.#snapshot = null;
      };
      snapshot.then(done, done);
    }
    return this.#snapshot;
  }

  async #take(): Promise<readonly InstanceRow[]> {
    const running = this.#options.running();
    const groups = new Set<number>();
    for (const app of running) for (const instance of app.instances) if (instance.pid !== undefined && LIVE_STATES.has(instance.state)) groups.add(instance.pid);
    const [usage, contained] = await Promise.all([
      (this.#options.usage ?? readGroupUsage)(groups).catch(() => new Map<number, GroupUsage>()),
      Promise.all(running.map((app) => (app.contained?.() ?? Promise.resolve(new Map<string, ContainedUsage>())).catch(() => new Map<string, ContainedUsage>()))),
    ]);
    const rows: InstanceRow[] = [];
    running.forEach(({ app, generation, instances }, index) => {
      for (const instance of instances) {
        const key = `${app}\0${instance.name}`;
        const live = instance.pid !== undefined && LIVE_STATES.has(instance.state);
        const group = contained[index]!.get(instance.name);
        // The control group counts every process of the sandbox; the process group only the launcher's.
        const own: GroupUsage | null = !live ? null : group?.usage ? { rssBytes: group.usage.memoryBytes, cpuSeconds: group.usage.cpuSeconds, processes: group.usage.processes } : (usage.get(instance.pid!) ?? null);
        rows.push({
          labels: { app, process: instance.type, instance_name: instance.name },
          instance,
          restarts: this.#tally(this.#restarts, key, generation, instance.restarts),
          oomKills: this.#tally(this.#oomKills, key, generation, instance.oomKills ?? 0),
          usage: own,
          cpuSeconds: own === null ? 0 : this.#monotonicCpu(key, instance.pid!, own.cpuSeconds),
          limits: group?.limits ?? null,
        });
      }
    });
    return rows;
  }

  #tally(tallies: Map<string, RestartTally>, key: string, generation: object, restarts: number): number {
    let tally = tallies.get(key);
    if (tally === undefined) tallies.set(key, (tally = { generation, seen: 0, total: 0 }));
    if (tally.generation !== generation) {
      tally.generation = generation;
      tally.seen = 0;
    }
    tally.total += Math.max(0, restarts - tally.seen);
    tally.seen = Math.max(tally.seen, restarts);
    return tally.total;
  }

  /** A member leaving the group (exited but not reaped by a member) could make the sum dip: a counter must not. */
  #monotonicCpu(key: string, pid: number, seconds: number): number {
    const last = this.#cpu.get(key);
    const value = last !== undefined && last.pid === pid ? Math.max(last.seconds, seconds) : seconds;
    this.#cpu.set(key, { pid, seconds: value });
    return value;
  }
}
