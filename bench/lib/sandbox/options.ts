// `npm run bench:sandbox`'s settings: flags and environment in, one plain
// object out. Defaults are defined here and nowhere else; the full run is
// sized to stay within about three minutes, --quick within about one.
import { parseArgs } from 'node:util';
import { UsageError } from '../options.ts';

export { UsageError };

/** The apps whose instance start is timed: a bare node:http server, and a WSGI function under Debian's gunicorn. */
export const BENCH_APPS = ['node', 'gunicorn'] as const;
export type BenchAppName = (typeof BENCH_APPS)[number];

/** The parts of a run, in the order they run. */
export const PARTS = ['start', 'latency', 'neighbour', 'breakdown'] as const;
export type Part = (typeof PARTS)[number];

export interface SandboxBenchOptions {
  /** Scale 0 → 1 rounds per app and daemon. */
  readonly rounds: number;
  readonly apps: readonly BenchAppName[];
  readonly parts: readonly Part[];
  /** wrk rounds per server (interleaved); the table shows each server's median round. */
  readonly latencyRounds: number;
  /** Pairs of wrk rounds (spinner paused, spinning) against the neighbour, per daemon. */
  readonly neighbourRounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  /** Launches of each variant in the breakdown of a sandboxed start. */
  readonly breakdownRuns: number;
  /** nginx proxying to the same app, as a reference row in the latency table. */
  readonly nginx: boolean;
  /** Longest wait before each wrk run for other processes to go quiet (0: none). */
  readonly quietWaitS: number;
  readonly build: boolean;
  readonly check: boolean;
  readonly quick: boolean;
  readonly help: boolean;
}

export const SANDBOX_DEFAULTS = {
  rounds: 20,
  quickRounds: 6,
  latencyRounds: 3,
  quickLatencyRounds: 1,
  neighbourRounds: 3,
  quickNeighbourRounds: 1,
  durationS: 5,
  quickDurationS: 3,
  warmupS: 1,
  connections: 64,
  breakdownRuns: 10,
  quickBreakdownRuns: 5,
  quietWaitS: 3,
} as const;

const D = SANDBOX_DEFAULTS;

export const SANDBOX_USAGE = `usage: npm run bench:sandbox -- [options]      (or: node bench/sandbox.ts [options])

Two real \`berth server\`s from dist/ (--sandbox required and --sandbox off),
the same apps on each: instance start time, latency through the edge, and
the latency of an app while its neighbour spins.

  --quick                ${D.quickRounds} start rounds, the node app only, ${D.quickLatencyRounds} × ${D.quickDurationS} s wrk, ${D.quickBreakdownRuns} launches per breakdown variant (about a minute)
  --rounds N             scale 0 → 1 rounds per app and daemon (default ${D.rounds})
  --apps a,b             any of ${BENCH_APPS.join(', ')} (default: both; --quick: node)
  --only a,b             any of ${PARTS.join(', ')} (default: all)
  --latency-rounds N     wrk rounds per server, interleaved (default ${D.latencyRounds})
  --neighbour-rounds N   pairs of wrk rounds (spinner paused, spinning) per daemon (default ${D.neighbourRounds})
  --duration SECONDS     each measured wrk round (default ${D.durationS}, after a ${D.warmupS} s warm-up)
  --connections N        wrk connections (default ${D.connections})
  --breakdown-runs N     launches of each variant in the breakdown (default ${D.breakdownRuns})
  --no-nginx             no nginx reference row
  --no-build             measure dist/ as it is (it must be current) instead of building it
  --check                exit 1 when a target is not met
  --help

environment:
  BENCH_QUIET_WAIT=SECONDS  longest wait before each wrk run for other processes to go quiet (default ${D.quietWaitS}, --quick 0; 0: none)
`;

function count(text: string, what: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`${what} must be a whole number from 1 to ${max}, not "${text}"`);
  return value;
}

function list<T extends string>(text: string | undefined, allowed: readonly T[], what: string, fallback: readonly T[]): readonly T[] {
  if (text === undefined) return fallback;
  const picked = text.split(',').map((part) => part.trim()).filter(Boolean);
  for (const name of picked) if (!allowed.includes(name as T)) throw new UsageError(`unknown ${what} "${name}" (known: ${allowed.join(', ')})`);
  if (picked.length === 0) throw new UsageError(`--${what === 'part' ? 'only' : `${what}s`} names nothing`);
  return allowed.filter((name) => picked.includes(name));
}

export function parseSandboxBenchOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SandboxBenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        apps: { type: 'string' },
        only: { type: 'string' },
        'latency-rounds': { type: 'string' },
        'neighbour-rounds': { type: 'string' },
        duration: { type: 'string' },
        connections: { type: 'string' },
        'breakdown-runs': { type: 'string' },
        'no-nginx': { type: 'boolean', default: false },
        'no-build': { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const quick = values.quick;
  const quiet = env.BENCH_QUIET_WAIT?.trim();
  return {
    rounds: values.rounds === undefined ? (quick ? D.quickRounds : D.rounds) : count(values.rounds, '--rounds', 50),
    apps: list(values.apps, BENCH_APPS, 'app', quick ? ['node'] : BENCH_APPS),
    parts: list(values.only, PARTS, 'part', PARTS),
    latencyRounds: values['latency-rounds'] === undefined ? (quick ? D.quickLatencyRounds : D.latencyRounds) : count(values['latency-rounds'], '--latency-rounds', 10),
    neighbourRounds: values['neighbour-rounds'] === undefined ? (quick ? D.quickNeighbourRounds : D.neighbourRounds) : count(values['neighbour-rounds'], '--neighbour-rounds', 10),
    durationS: values.duration === undefined ? (quick ? D.quickDurationS : D.durationS) : count(values.duration, '--duration', 120),
    warmupS: D.warmupS,
    connections: values.connections === undefined ? D.connections : count(values.connections, '--connections', 1024),
    breakdownRuns: values['breakdown-runs'] === undefined ? (quick ? D.quickBreakdownRuns : D.breakdownRuns) : count(values['breakdown-runs'], '--breakdown-runs', 100),
    nginx: !values['no-nginx'],
    quietWaitS: quiet === undefined || quiet === '' ? (quick ? 0 : D.quietWaitS) : quiet === '0' ? 0 : count(quiet, 'BENCH_QUIET_WAIT', 600),
    build: !values['no-build'],
    check: values.check,
    quick,
    help: values.help,
  };
}
