// A contender is one server product under test: nginx, berth, Caddy, the
// node:http baseline. Each knows whether it is installed and how to start
// itself serving the static folder or proxying to the upstream, and which
// modes it can be measured in at all (HTTPS, a response cache).
import type { ChildProcesses, Child } from '../child-processes.ts';
import type { Workspace } from '../fixtures.ts';
import type { Mode } from '../scenarios.ts';
import type { TlsFiles } from '../tls-cert.ts';

export interface Upstream {
  readonly host: string;
  readonly port: number;
}

export interface StartContext {
  readonly children: ChildProcesses;
  readonly workspace: Workspace;
  /** Where berth's checkout is (the harness lives in its bench/). */
  readonly repoRoot: string;
  /** `prlimit ...` or nothing; see fd-limit.ts. */
  readonly wrapper: readonly string[];
  readonly nofile: number;
  /** Present for the modes that proxy. */
  readonly upstream: Upstream | null;
  /** The run's one certificate, present for the HTTPS modes. */
  readonly tls: TlsFiles | null;
}

export type Availability = { readonly installed: true; readonly version: string } | { readonly installed: false; readonly reason: string };

/** A started server: its root process (whose tree is measured) and where it listens. */
export interface RunningServer {
  /** Plain HTTP, in every mode. */
  readonly origin: string;
  /** HTTPS (HTTP/2 and HTTP/1.1 by ALPN), in the HTTPS modes. */
  readonly httpsOrigin?: string;
  readonly child: Child;
}

/** The response header by which a contender says an answer came from its cache. */
export interface CacheHitMarker {
  readonly name: string;
  readonly matches: RegExp;
}

export interface Contender {
  readonly name: string;
  /** How it uses the two cores, for the report header. */
  readonly cores: string;
  /** The modes it is measured in; the others are reported as not measured. */
  readonly modes: readonly Mode[];
  /** Present when it has a response cache (the cache mode). */
  readonly cacheHit?: CacheHitMarker;
  availability(children: ChildProcesses, repoRoot: string): Promise<Availability>;
  /** Starts the server and returns once it listens (readiness is checked by the caller). */
  start(mode: Mode, context: StartContext): Promise<RunningServer>;
}

export function upstreamOf(context: StartContext): Upstream {
  if (!context.upstream) throw new Error('proxy mode needs the upstream');
  return context.upstream;
}

export function tlsOf(context: StartContext): TlsFiles {
  if (!context.tls) throw new Error('the HTTPS modes need the certificate');
  return context.tls;
}
