// Drives wrk and reads its report.
import type { ChildProcesses } from './child-processes.ts';

export interface WrkErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly timeout: number;
  /** wrk's "Non-2xx or 3xx responses". */
  readonly non2xx3xx: number;
  /** h2load only: requests lost to a stream reset or a broken connection ("errored" less "timeout"). */
  readonly stream?: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSec: number;
  readonly transferBytesPerSec: number;
  /** Milliseconds; percentiles present only when wrk ran with --latency. */
  readonly latencyMs: {
    readonly avg: number;
    readonly max: number;
    readonly p50: number | null;
    readonly p75: number | null;
    readonly p90: number | null;
    readonly p99: number | null;
  };
  readonly errors: WrkErrors;
}

const TIME_UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** "635.91us" → 0.63591 (ms). */
export function parseWrkTime(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`not a wrk time: "${text}"`);
  return Number(match[1]) * TIME_UNITS_MS[match[2]!]!;
}

/** "8.25MB" → bytes (wrk uses powers of 1024). */
export function parseWrkSize(text: string): number {
  const match = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(text);
  if (!match) throw new Error(`not a wrk size: "${text}"`);
  return Number(match[1]) * SIZE_UNITS[match[2]!]!;
}

export function totalErrors(errors: WrkErrors): number {
  return errors.connect + errors.read + errors.write + errors.timeout + errors.non2xx3xx + (errors.stream ?? 0);
}

/** Reads wrk 4's text report; throws when it is not one (wrk failed to connect at all, say). */
export function parseWrkOutput(text: string): WrkResult {
  const rate = /^Requests\/sec:\s+([\d.]+)\s*$/m.exec(text);
  const total = /^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read\s*$/m.exec(text);
  const latency = /^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(text);
  if (!rate || !total || !latency) throw new Error(`wrk printed no report:\n${text.trim().slice(0, 400)}`);
  const percentile = (p: number): number | null => {
    // wrk pads one-letter units ("1.12s ") with a space to align them with "ms"/"us".
    const match = new RegExp(`^\\s*${p}(?:\\.0+)?%\\s+(\\S+)\\s*$`, 'm').exec(text);
    return match ? parseWrkTime(match[1]!) : null;
  };
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const transfer = /^Transfer\/sec:\s+(\S+)\s*$/m.exec(text);
  const seconds = parseWrkTime(total[2]!) / 1000;
  return {
    requests: Number(total[1]),
    seconds,
    requestsPerSec: Number(rate[1]),
    transferBytesPerSec: transfer ? parseWrkSize(transfer[1]!) : parseWrkSize(total[3]!) / seconds,
    latencyMs: {
      avg: parseWrkTime(latency[1]!),
      max: parseWrkTime(latency[3]!),
      p50: percentile(50),
      p75: percentile(75),
      p90: percentile(90),
      p99: percentile(99),
    },
    errors: {
      connect: Number(sockets?.[1] ?? 0),
      read: Number(sockets?.[2] ?? 0),
      write: Number(sockets?.[3] ?? 0),
      timeout: Number(sockets?.[4] ?? 0),
      non2xx3xx: Number(non2xx?.[1] ?? 0),
    },
  };
}

export interface WrkLoad {
  readonly url: string;
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  /** Sent with every request (a Host header to reach one app behind an edge). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** `wrk -tT -cC -dDs --latency [-H 'NAME: VALUE'...] URL` */
export function wrkArgs(load: WrkLoad): string[] {
  const headers = Object.entries(load.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  return [`-t${load.threads}`, `-c${load.connections}`, `-d${load.seconds}s`, '--latency', ...headers, load.url];
}

/** wrk with `wrkArgs(load)`, killed if it overruns its duration by 20 s. */
export async function runWrk(children: ChildProcesses, load: WrkLoad): Promise<WrkResult> {
  const output = await children.run({
    name: 'wrk',
    command: 'wrk',
    args: wrkArgs(load),
    timeoutMs: (load.seconds + 20) * 1000,
  });
  return parseWrkOutput(output);
}
