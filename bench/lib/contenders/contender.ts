// A contender is one server product under test: nginx, berth, Caddy, the
// node:http baseline. Each knows whether it is installed and how to start
// itself serving the static folder or proxying to the upstream.
import type { ChildProcesses, Child } from '../child-processes.ts';
import type { Workspace } from '../fixtures.ts';
import type { Mode } from '../scenarios.ts';

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
  /** Present for proxy mode. */
  readonly upstream: Upstream | null;
}

export type Availability = { readonly installed: true; readonly version: string } | { readonly installed: false; readonly reason: string };

/** A started server: its root process (whose tree is measured) and where it listens. */
export interface RunningServer {
  readonly origin: string;
  readonly child: Child;
}

export interface Contender {
  readonly name: string;
  /** How it uses the two cores, for the report header. */
  readonly cores: string;
  availability(children: ChildProcesses, repoRoot: string): Promise<Availability>;
  /** Starts the server and returns once it listens (readiness is checked by the caller). */
  start(mode: Mode, context: StartContext): Promise<RunningServer>;
}

export function upstreamOf(context: StartContext): Upstream {
  if (!context.upstream) throw new Error('proxy mode needs the upstream');
  return context.upstream;
}
