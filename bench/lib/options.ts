// The harness's settings: flags and environment in, one plain object out.
// Defaults are defined here and nowhere else.
import { parseArgs } from 'node:util';
import { SCENARIO_IDS, type ScenarioId } from './scenarios.ts';

export const SERVER_NAMES = ['nginx', 'berth', 'caddy', 'node:http'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export interface BenchOptions {
  /** Seconds of each measured wrk run. */
  readonly durationS: number;
  /** Seconds of the discarded wrk run before each measured one. */
  readonly warmupS: number;
  /** Each server is started and measured this many times per scenario; the median round by req/s is reported. */
  readonly rounds: number;
  readonly threads: number;
  readonly connections: number;
  /** h2load: TLS connections, and concurrent streams on each (connections × streams requests in flight, as wrk's connections). */
  readonly h2Connections: number;
  readonly h2Streams: number;
  readonly idleConnections: number;
  /** Longest wait before a measured run for other processes to go quiet. */
  readonly quietWaitS: number;
  readonly servers: readonly ServerName[];
  readonly scenarios: readonly ScenarioId[];
  /** Exit 1 when a target is not met. */
  readonly check: boolean;
  readonly quick: boolean;
  readonly help: boolean;
}

export const DEFAULTS = {
  durationS: 10,
  quickDurationS: 3,
  warmupS: 2,
  rounds: 1,
  threads: 1,
  connections: 64,
  h2Connections: 16,
  h2Streams: 4,
  idleConnections: 10_000,
  quietWaitS: 30,
} as const;

export const USAGE = `usage: npm run bench -- [options]      (or: node bench/run.ts [options])

  --quick                 ${DEFAULTS.quickDurationS} s measured runs instead of ${DEFAULTS.durationS} s
  --rounds N              measure every server N times per scenario, report the median (default ${DEFAULTS.rounds})
  --servers a,b           any of ${SERVER_NAMES.join(', ')} (default: all)
  --scenarios a,b         any of ${SCENARIO_IDS.join(', ')} (default: all)
  --idle-connections N    idle keep-alive connections for idle-memory (default ${DEFAULTS.idleConnections})
  --check                 exit 1 when a target is not met (goals are reported only)
  --help

environment:
  BENCH_DURATION=SECONDS  measured run length (default ${DEFAULTS.durationS}; --quick wins)
  BENCH_WARMUP=SECONDS    warm-up length (default ${DEFAULTS.warmupS})
  BENCH_ROUNDS=N          as --rounds
  BENCH_QUIET_WAIT=SECONDS  longest wait before each run for other processes to go quiet (default ${DEFAULTS.quietWaitS}; 0: none)
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function seconds(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)s?$/.exec(text.trim());
  const value = match ? Number(match[1]) : Number.NaN;
  if (!(value > 0) || value > 3600) throw new UsageError(`${what} must be a number of seconds between 0 and 3600, not "${text}"`);
  // wrk takes whole seconds.
  return Math.max(1, Math.round(value));
}

function count(text: string, what: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`${what} must be a whole number from 1 to ${max}, not "${text}"`);
  return value;
}

function list<T extends string>(text: string | undefined, allowed: readonly T[], what: string, aliases: Record<string, T> = {}): readonly T[] {
  if (text === undefined) return allowed;
  const picked = text.split(',').map((part) => part.trim()).filter(Boolean).map((part) => aliases[part] ?? part);
  for (const name of picked) if (!allowed.includes(name as T)) throw new UsageError(`unknown ${what} "${name}" (known: ${allowed.join(', ')})`);
  return allowed.filter((name) => picked.includes(name));
}

export function parseBenchOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        servers: { type: 'string' },
        scenarios: { type: 'string' },
        'idle-connections': { type: 'string' },
        check: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  const durationS = values.quick
    ? DEFAULTS.quickDurationS
    : env.BENCH_DURATION
      ? seconds(env.BENCH_DURATION, 'BENCH_DURATION')
      : DEFAULTS.durationS;
  const rounds = values.rounds ?? env.BENCH_ROUNDS;
  return {
    durationS,
    warmupS: env.BENCH_WARMUP ? seconds(env.BENCH_WARMUP, 'BENCH_WARMUP') : DEFAULTS.warmupS,
    rounds: rounds === undefined ? DEFAULTS.rounds : count(rounds, 'rounds', 20),
    threads: DEFAULTS.threads,
    connections: DEFAULTS.connections,
    h2Connections: DEFAULTS.h2Connections,
    h2Streams: DEFAULTS.h2Streams,
    quietWaitS: env.BENCH_QUIET_WAIT === undefined ? DEFAULTS.quietWaitS : env.BENCH_QUIET_WAIT.trim() === '0' ? 0 : seconds(env.BENCH_QUIET_WAIT, 'BENCH_QUIET_WAIT'),
    idleConnections: values['idle-connections'] === undefined ? DEFAULTS.idleConnections : count(values['idle-connections'], '--idle-connections', 100_000),
    servers: list(values.servers, SERVER_NAMES, 'server', { node: 'node:http', 'node-http': 'node:http' }),
    scenarios: list(values.scenarios, SCENARIO_IDS, 'scenario'),
    check: values.check,
    quick: values.quick,
    help: values.help,
  };
}
