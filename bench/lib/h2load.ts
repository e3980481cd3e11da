// Drives h2load (Debian's nghttp2-client) for the HTTP/2 scenarios and reads
// its report into the same shape as wrk's, so that the report, the ratios and
// the targets treat both alike.
//
// h2load prints no latency percentiles, only min/max/mean: the percentiles
// come from its per-request log (--log-file: start µs, status, µs until the
// end of the response), which holds exactly the requests of the measured
// duration.
import { readFile, rm } from 'node:fs/promises';
import type { ChildProcesses } from './child-processes.ts';
import { parseWrkSize, type WrkResult } from './wrk.ts';

export interface H2Load {
  readonly url: string;
  /** TCP (TLS) connections. */
  readonly connections: number;
  /** Concurrent streams per connection (h2load -m). */
  readonly streams: number;
  readonly seconds: number;
  /** Where h2load writes its per-request log; removed after reading. */
  readonly logFile: string;
}

export function h2loadArgs(load: H2Load): string[] {
  return ['-t1', `-c${load.connections}`, `-m${load.streams}`, '-D', `${load.seconds}`, `--log-file=${load.logFile}`, load.url];
}

/** How the report header describes the HTTP/2 load. */
export function describeH2Load(connections: number, streams: number, seconds: number): string {
  return `h2load -t1 -c${connections} -m${streams} -D ${seconds}`;
}

/** h2load's time units: "43us", "10.93ms", "1.2s". */
export function parseH2Time(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) throw new Error(`not an h2load time: "${text}"`);
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 'ms' ? value : value * 1000;
}

/** Latency of each logged request, in ms: the third column of h2load's --log-file. */
export function parseH2LoadLog(text: string): Float64Array {
  const values: number[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split('\t');
    const us = Number(fields[2]);
    if (fields.length < 3 || !Number.isFinite(us)) throw new Error(`not an h2load log line: "${line.slice(0, 80)}"`);
    values.push(us / 1000);
  }
  return Float64Array.from(values);
}

/** Nearest-rank percentile of ascending values, or null when there are none. */
export function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Reads h2load's text report, with the latencies from its log when given.
 * Throws when h2load measured nothing or did not speak HTTP/2 (a server that
 * refused h2 in ALPN must not be reported as an HTTP/2 number).
 */
export function parseH2LoadOutput(text: string, latenciesMs?: Float64Array): WrkResult {
  const finished = /^finished in ([\d.]+\w+), ([\d.]+) req\/s, ([\d.]+\w+)\/s\s*$/m.exec(text);
  const requests = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout\s*$/m.exec(text);
  const codes = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx\s*$/m.exec(text);
  const traffic = /^traffic: \S+ \((\d+)\) total/m.exec(text);
  const perRequest = /^time for request:\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(text);
  if (!finished || !requests || !codes) throw new Error(`h2load printed no report:\n${text.trim().split('\n').slice(-12).join('\n')}`);
  const protocol = /^Application protocol: (\S+)/m.exec(text)?.[1];
  if (protocol !== 'h2') throw new Error(`h2load did not get HTTP/2 (application protocol: ${protocol ?? 'none negotiated'}):\n${text.trim().split('\n').slice(-12).join('\n')}`);
  const done = Number(requests[3]);
  const succeeded = Number(requests[4]);
  const errored = Number(requests[6]);
  const timeout = Number(requests[7]);
  const requestsPerSec = Number(finished[2]);
  if (succeeded === 0 || !(requestsPerSec > 0)) throw new Error(`h2load got no successful answer:\n${text.trim().split('\n').slice(-12).join('\n')}`);
  // "finished in" includes the start-up; req/s is over the measured duration only.
  const seconds = done / requestsPerSec;
  const sorted = latenciesMs ? Float64Array.from(latenciesMs).sort() : null;
  const mean = (values: Float64Array) => values.reduce((sum, v) => sum + v, 0) / values.length;
  return {
    requests: done,
    seconds,
    requestsPerSec,
    transferBytesPerSec: traffic ? Number(traffic[1]) / seconds : parseWrkSize(finished[3]!),
    latencyMs: {
      avg: sorted && sorted.length > 0 ? mean(sorted) : perRequest ? parseH2Time(perRequest[3]!) : 0,
      max: sorted && sorted.length > 0 ? sorted[sorted.length - 1]! : perRequest ? parseH2Time(perRequest[2]!) : 0,
      p50: sorted ? percentile(sorted, 50) : null,
      p75: sorted ? percentile(sorted, 75) : null,
      p90: sorted ? percentile(sorted, 90) : null,
      p99: sorted ? percentile(sorted, 99) : null,
    },
    errors: {
      connect: (text.match(/could not connect/g) ?? []).length,
      read: 0,
      write: 0,
      timeout,
      non2xx3xx: Number(codes[3]) + Number(codes[4]),
      stream: errored - timeout,
    },
  };
}

/** `h2load -t1 -cC -mM -D S --log-file=F URL`, killed if it overruns its duration by 20 s. */
export async function runH2Load(children: ChildProcesses, load: H2Load): Promise<WrkResult> {
  try {
    const output = await children.run({ name: 'h2load', command: 'h2load', args: h2loadArgs(load), timeoutMs: (load.seconds + 20) * 1000 });
    let log: string;
    try {
      log = await readFile(load.logFile, 'utf8');
    } catch {
      log = '';
    }
    return parseH2LoadOutput(output, parseH2LoadLog(log));
  } finally {
    await rm(load.logFile, { force: true });
  }
}
