import type { Formation, InstanceVitals } from '../runner/index.ts';
import type { AppState } from './app-states.ts';
import type { RunView } from './one-off-runs.ts';

// What runs of an app, as `berth ps`, the API, the dashboard and the
// metrics see it: each instance of its formation and each one-off run, with
// what it uses against its limits where it is measured (in a sandbox).

/** One instance as `berth ps`, the API and the dashboard show it. */
export interface InstanceView {
  readonly name: string;
  readonly state: string;
  readonly pid: number | undefined;
  readonly port: number | null;
  readonly release: string | null;
  /** How the slot's last unasked exit went ("out of memory: web.1 used 512 MiB, its limit"), or null. */
  readonly lastExit: string | null;
  readonly memory: { readonly usedBytes: number; readonly limitBytes: number | null } | null;
  readonly cpu: { readonly seconds: number; readonly limit: number | null; readonly since: string } | null;
  readonly processes: { readonly count: number; readonly limit: number | null } | null;
}

/** One app's running instances, for metrics; `generation` is the same object while the same set of instances (one activation) runs. */
export interface AppVitals {
  readonly app: string;
  readonly generation: object;
  readonly instances: InstanceVitals[];
  readonly contained: () => ReturnType<Formation['usage']>;
}

/** The formation's instances (of `release`, "v3"), measured, then the app's one-off runs. */
export async function instanceViews(formation: Formation | null | undefined, release: string | null, runs: readonly RunView[]): Promise<InstanceView[]> {
  const runViews = await runInstanceViews(runs);
  if (!formation) return runViews;
  const usage = await formation.usage();
  const instances = formation.instances().map((instance) => {
    const measured = usage.get(instance.name);
    return {
      name: instance.name,
      state: instance.state,
      pid: instance.pid,
      port: instance.port,
      release,
      lastExit: instance.lastExit,
      memory: measured?.usage ? { usedBytes: measured.usage.memoryBytes, limitBytes: measured.limits?.memoryBytes ?? null } : null,
      cpu: measured?.usage ? { seconds: measured.usage.cpuSeconds, limit: measured.limits?.cpu ?? null, since: new Date(instance.startedAt).toISOString() } : null,
      processes: measured?.usage ? { count: measured.usage.processes, limit: measured.limits?.processes ?? null } : null,
    };
  });
  return [...instances, ...runViews];
}

/** One-off runs as `berth ps` lists them (state "running"), measured like instances. */
function runInstanceViews(runs: readonly RunView[]): Promise<InstanceView[]> {
  return Promise.all(
    runs.map(async (run) => {
      const usage = await run.process.usage().catch(() => null);
      const limits = run.process.limits;
      return {
        name: run.name,
        state: 'running',
        pid: run.pid,
        port: null,
        release: run.release,
        lastExit: null,
        memory: usage ? { usedBytes: usage.memoryBytes, limitBytes: limits?.memoryBytes ?? null } : null,
        cpu: usage ? { seconds: usage.cpuSeconds, limit: limits?.cpu ?? null, since: run.startedAt } : null,
        processes: usage ? { count: usage.processes, limit: limits?.processes ?? null } : null,
      };
    }),
  );
}

/** Every app's running instances, for metrics. */
export function appVitals(apps: Iterable<[string, AppState]>): AppVitals[] {
  const running: AppVitals[] = [];
  for (const [app, state] of apps) {
    const formation = state.runner.formation;
    if (formation) running.push({ app, generation: formation, instances: formation.vitals(), contained: () => formation.usage() });
  }
  return running;
}
