// Keeps every app's slirp4netns running: one it started ends → seen at once
// (its exit); one it found after a restart (not its child) ends → seen by a
// poll of /proc. Either is started again after the runner's backoff (a
// quick death doubles the wait, a stable run forgets), for as long as the
// app's network exists. close() stops watching and leaves them running.

import type { ChildProcess } from 'node:child_process';
import { decideRestart, DEFAULT_RESTART_POLICY, NO_CRASHES, type CrashHistory, type RestartPolicy } from '../runner/index.ts';
import { isRunning, type EgressProcess } from './egress.ts';

/** A slirp to watch: its process, and the child handle when this daemon started it. */
export interface WatchedEgress {
  readonly process: EgressProcess;
  readonly child: ChildProcess | null;
}

export interface EgressKeeperOptions {
  /** Starts the app's slirp again (or finds the one running now); null when the app has no network any more. */
  readonly restart: (app: string) => Promise<WatchedEgress | null>;
  readonly clock?: () => number;
  readonly policy?: RestartPolicy;
  /** How often processes that are not this daemon's children are looked at (ms). */
  readonly pollMs?: number;
  readonly log?: (line: string) => void;
}

interface Watched {
  process: EgressProcess;
  child: ChildProcess | null;
  history: CrashHistory;
  since: number;
  /** A restart is waiting or under way. */
  timer: NodeJS.Timeout | null;
  restarting: boolean;
}

export class EgressKeeper {
  readonly #options: EgressKeeperOptions;
  readonly #clock: () => number;
  readonly #watched = new Map<string, Watched>();
  #poll: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: EgressKeeperOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Watches the app's slirp from now on (replacing what was watched for it). */
  watch(app: string, process: EgressProcess, child: ChildProcess | null): void {
    if (this.#closed) return;
    const previous = this.#watched.get(app);
    if (previous?.timer) clearTimeout(previous.timer);
    const entry: Watched = { process, child, history: previous?.history ?? NO_CRASHES, since: this.#clock(), timer: null, restarting: false };
    this.#watched.set(app, entry);
    child?.once('exit', () => {
      if (this.#watched.get(app) === entry) this.#ended(app, entry);
    });
    this.#poll ??= setInterval(() => void this.#check(), this.#options.pollMs ?? 2_000).unref();
  }

  /** Stops watching the app's slirp (before its network is taken down). */
  unwatch(app: string): void {
    const entry = this.#watched.get(app);
    if (entry?.timer) clearTimeout(entry.timer);
    this.#watched.delete(app);
  }

  /** What is watched for the app now (tests, and ensure() on an app it already keeps). */
  watched(app: string): EgressProcess | null {
    return this.#watched.get(app)?.process ?? null;
  }

  /** Stops watching everything; the processes keep running. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = null;
    for (const entry of this.#watched.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.child?.removeAllListeners('exit');
    }
    this.#watched.clear();
  }

  async #check(): Promise<void> {
    for (const [app, entry] of this.#watched) {
      if (entry.timer !== null || entry.restarting) continue;
      if (!(await isRunning(entry.process)) && this.#watched.get(app) === entry) this.#ended(app, entry);
    }
  }

  #ended(app: string, entry: Watched): void {
    if (this.#closed || entry.timer !== null || entry.restarting) return;
    const decision = decideRestart(entry.history, entry.since, this.#clock(), this.#options.policy ?? DEFAULT_RESTART_POLICY);
    entry.history = decision.history;
    this.#options.log?.(
      `egress of app ${app} (slirp4netns pid ${entry.process.pid}) ended; starting it again in ${decision.delayMs} ms${decision.crashLoop ? ` (it ended ${decision.history.quickCrashes} times in a row)` : ''}`,
    );
    entry.timer = setTimeout(() => void this.#restart(app, entry), decision.delayMs);
    entry.timer.unref();
  }

  async #restart(app: string, entry: Watched): Promise<void> {
    entry.timer = null;
    if (this.#closed || this.#watched.get(app) !== entry) return;
    entry.restarting = true;
    try {
      const started = await this.#options.restart(app);
      if (this.#watched.get(app) !== entry) return; // removed or ensured meanwhile
      if (started === null) {
        this.#watched.delete(app);
        return;
      }
      this.watch(app, started.process, started.child); // keeps entry's history
    } catch (err) {
      if (this.#watched.get(app) !== entry) return;
      this.#options.log?.(`egress of app ${app} could not be started again: ${(err as Error).message}`);
      entry.restarting = false;
      entry.since = this.#clock();
      this.#ended(app, entry);
      return;
    }
    entry.restarting = false;
  }
}
