import type { RouteSpec } from '../route-spec.ts';
import type { EdgeLimits } from './limits.ts';

/** What an edge worker thread is started with. */
export interface WorkerInit {
  readonly host: string | undefined;
  readonly port: number;
  readonly spec: RouteSpec;
  readonly initialVersion: number;
  /** One Int32: the route-table version in force, flipped by the main thread. */
  readonly version: SharedArrayBuffer;
  readonly limits: Partial<EdgeLimits>;
  readonly proto: 'http' | 'https';
}

export type MainMessage =
  | { readonly type: 'routes'; readonly version: number; readonly spec: RouteSpec }
  | { readonly type: 'drain'; readonly id: number; readonly host: string; readonly port: number; readonly deadline: number }
  | { readonly type: 'close'; readonly graceMs: number };

export type WorkerMessage =
  | { readonly type: 'listening' }
  | { readonly type: 'listen-failed'; readonly message: string }
  | { readonly type: 'prepared'; readonly version: number }
  | { readonly type: 'prepare-failed'; readonly version: number; readonly message: string }
  | { readonly type: 'drained'; readonly id: number }
  | { readonly type: 'closed' }
  | { readonly type: 'log'; readonly line: string };
