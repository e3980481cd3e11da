import type { ConnectionCountBuffers } from '../connection-admission.ts';
import type { RouteSpec } from '../route-spec.ts';
import type { EdgeLimits } from './limits.ts';
import type { ObservationBatch } from './observations.ts';
import type { TlsConfig } from './tls-state.ts';

/** What an edge worker thread is started with. */
export interface WorkerInit {
  readonly host: string | undefined;
  readonly port: number;
  readonly spec: RouteSpec;
  readonly initialVersion: number;
  /** One Int32: the route-table version in force, flipped by the main thread. */
  readonly version: SharedArrayBuffer;
  readonly limits: Partial<EdgeLimits>;
  /** The HTTPS listener's address, when the edge has one. */
  readonly https: { readonly host: string | undefined; readonly port: number } | null;
  readonly tls: TlsConfig;
  readonly challenges: ReadonlyMap<string, string>;
  readonly ticketKeys: Buffer;
  readonly limiter: SharedArrayBuffer;
  /** Open client connections, counted across every engine. */
  readonly connections: ConnectionCountBuffers;
  /** This engine's share of the cache memory. */
  readonly cacheBytes: number;
  /** The edge's private folder for spill files. */
  readonly spillDir: string;
  /** This engine's number in the edge (1 and up: 0 is the main thread's). */
  readonly engineIndex: number;
  /** Post observation batches to the main thread. */
  readonly observe: boolean;
  readonly accessRecords: boolean;
}

export type MainMessage =
  | { readonly type: 'routes'; readonly version: number; readonly spec: RouteSpec }
  | { readonly type: 'drain'; readonly id: number; readonly host: string; readonly port: number; readonly deadline: number }
  | { readonly type: 'tls'; readonly config: TlsConfig }
  | { readonly type: 'challenges'; readonly tokens: ReadonlyMap<string, string> }
  | { readonly type: 'purge'; readonly id: number; readonly hosts: readonly string[]; readonly path: string | null }
  | { readonly type: 'close'; readonly graceMs: number; readonly idleCloseMs: number };

export type WorkerMessage =
  | { readonly type: 'listening' }
  | { readonly type: 'listen-failed'; readonly host: string | undefined; readonly port: number; readonly reason: string; readonly secure: boolean }
  | { readonly type: 'prepared'; readonly version: number }
  | { readonly type: 'prepare-failed'; readonly version: number; readonly message: string }
  | { readonly type: 'drained'; readonly id: number }
  | { readonly type: 'purged'; readonly id: number; readonly count: number }
  | { readonly type: 'closed' }
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'observations'; readonly batch: ObservationBatch };
