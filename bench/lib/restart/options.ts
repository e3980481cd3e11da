// The options of `npm run bench:restart`, parsed and bounded (every loop
// of the bench is bounded by them). Pure.
import { parseArgs } from 'node:util';
import type { LoadShape } from './rounds.ts';

export const PARTS = ['daemon', 'handover', 'costs'] as const;
export type Part = (typeof PARTS)[number];

export const RESTART_USAGE = `usage: npm run bench:restart -- [options]      (or: node bench/restart.ts [options])
  --rounds N          restarts per signal (SIGTERM, SIGKILL) (default 3, at most 10)
  --clients N         load clients, half of them keep-alive (default 4, at most 16)
  --interval-ms MS    time between one client's requests (default 20: 50 req/s per client)
  --sandbox MODE      required (the default, as production runs) or off
  --handovers N       listening-socket handovers per drain in the spike (default 20, at most 50)
  --only LIST         parts to run: daemon,handover,costs (default all)
  --no-build          measure dist/ as it is instead of building it first
`;

export interface RestartOptions {
  readonly rounds: number;
  readonly load: LoadShape;
  readonly sandbox: 'required' | 'off';
  readonly handovers: number;
  readonly parts: readonly Part[];
  readonly build: boolean;
}

/** The options, 'help', or a message saying what is wrong. */
export function parseRestartOptions(argv: readonly string[]): RestartOptions | 'help' | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        rounds: { type: 'string', default: '3' },
        clients: { type: 'string', default: '4' },
        'interval-ms': { type: 'string', default: '20' },
        sandbox: { type: 'string', default: 'required' },
        handovers: { type: 'string', default: '20' },
        only: { type: 'string', default: PARTS.join(',') },
        'no-build': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    return (err as Error).message;
  }
  if (values.help) return 'help';
  const int = (text: string, min: number, max: number) => (/^\d+$/.test(text) && Number(text) >= min && Number(text) <= max ? Number(text) : null);
  const rounds = int(values.rounds, 1, 10);
  const clients = int(values.clients, 1, 16);
  const intervalMs = int(values['interval-ms'], 5, 1000);
  const handovers = int(values.handovers, 1, 50);
  const parts = values.only.split(',') as Part[];
  if (rounds === null || clients === null || intervalMs === null || handovers === null) return 'bad --rounds, --clients, --interval-ms or --handovers';
  if (values.sandbox !== 'required' && values.sandbox !== 'off') return '--sandbox is required or off';
  if (parts.some((p) => !PARTS.includes(p))) return `--only takes ${PARTS.join(',')}`;
  return { rounds, load: { clients, keepAliveClients: Math.ceil(clients / 2), intervalMs }, sandbox: values.sandbox, handovers, parts, build: !values['no-build'] };
}

