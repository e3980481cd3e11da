import { RouteBuilder, type PreparedRoutes, type RouteSpec } from './route-spec.ts';
import type { RouteTable } from './router.ts';

/**
 * One engine's view of the routes in force. A table is prepared first
 * (static roots resolved, groups built), then comes into force when the
 * shared version says so: the main thread flips that version only once
 * every engine has prepared it, so all engines switch at the same instant
 * and a request sees one table or the other, never a mixture.
 */
export class RouteSwitch {
  readonly builder: RouteBuilder;
  readonly #version: Int32Array;
  #table: RouteTable = { hosts: new Map(), fallbackSite: null };
  #tableVersion = -1;
  #pending: { version: number; prepared: PreparedRoutes } | null = null;

  /** `log` hears about static roots that cannot be served: give it to one engine's switch only. */
  constructor(version: SharedArrayBuffer, log?: (line: string) => void) {
    this.#version = new Int32Array(version);
    this.builder = new RouteBuilder({ log });
  }

  /** Builds the table for `version`; it comes into force when the shared version reaches it. */
  async prepare(version: number, spec: RouteSpec): Promise<void> {
    const prepared = await this.builder.prepare(spec);
    this.#pending = { version, prepared };
  }

  /** The table in force now. Called for every request: one atomic load when nothing changed. */
  current(): RouteTable {
    const wanted = Atomics.load(this.#version, 0);
    if (wanted !== this.#tableVersion) {
      const pending = this.#pending;
      if (pending !== null && pending.version === wanted) {
        this.#table = RouteBuilder.apply(pending.prepared);
        this.#tableVersion = wanted;
        this.#pending = null;
      }
    }
    return this.#table;
  }
}
