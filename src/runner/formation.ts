import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { commandToArgv, type ProcessType } from '../build/index.ts';
import { Instance, type ExitInfo, type InstanceState, type InstanceTakeover, type RunAs } from './instance.ts';
import { plainAdopter, type Adopter, type LaunchedProcess, type Launcher } from './launcher.ts';
import { outOfMemoryMessage, type ResourceLimits, type ResourceUsage } from '../sandbox/index.ts';
import { findFreePort } from './ports.ts';
import { portTakenMessage, type PortOwner } from './port-owner.ts';
import { probeInstance } from './probe.ts';
import { judgeProbe, DEFAULT_READINESS_POLICY, type ReadinessPolicy } from './readiness.ts';
import type { RolloutInstance } from './rollout-policy.ts';
import { decideRestart, DEFAULT_RESTART_POLICY, NO_CRASHES, type CrashHistory, type RestartPolicy } from './restart-policy.ts';

/** A ready web instance, as the edge sees it. */
export interface ReadyUpstream {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/**
 * A running instance as the next daemon needs it to take it over: which
 * slot, the port it serves on, what it was started with (`fingerprint`:
 * command, folder, environment and user, for its port), and the process.
 */
export interface InstanceRecord extends InstanceTakeover {
  readonly type: string;
  readonly index: number;
  readonly port: number | null;
  readonly startedAt: number;
  readonly fingerprint: string;
}

/** One instance as `vitals()` reports it. */
export interface InstanceVitals {
  readonly name: string;
  readonly type: string;
  readonly state: InstanceState;
  readonly pid: number | undefined;
  /** When its process started (the formation's clock: epoch ms by default). */
  readonly startedAt: number;
  readonly restarts: number;
  /** Of the restarts, those after the instance was killed for memory. */
  readonly oomKills: number;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface FormationOptions {
  readonly cwd: string;
  readonly processes: readonly ProcessType[];
  /** Instances per process type; types not named run one instance. */
  readonly scale: Readonly<Record<string, number>>;
  readonly env: Readonly<Record<string, string>>;
  /** Who instances run as; null or absent runs them as berth's own user. */
  readonly user?: RunAs | null;
  readonly healthPath: string | null;
  /** How long an instance has to finish in-flight work after SIGTERM. */
  readonly graceMs: number;
  readonly log: (source: string, line: string, stream: 'out' | 'err' | 'event') => void;
  /** Called with the ready web instances whenever they change; may resolve once they take traffic. */
  readonly onUpstreams: (ready: readonly ReadyUpstream[]) => void | Promise<void>;
  /** Called before an instance is signalled, so the edge can drain it first. */
  readonly drain?: (upstream: ReadyUpstream, deadline: number) => Promise<void>;
  readonly clock?: Clock;
  readonly restartPolicy?: RestartPolicy;
  readonly readinessPolicy?: ReadinessPolicy;
  /** How instances are started (plainly, or in the app's sandbox); plain when absent. */
  readonly launcher?: Launcher;
  /** A port for a new web instance; a free port of the machine when absent (a sandbox has ports of its own). */
  readonly choosePort?: () => Promise<number>;
  /** Where instances' output files go, so they can outlive the daemon (see Instance); absent: pipes. */
  readonly outputDir?: string;
  /** Takes over instances a previous daemon started (`start(records)`); plain process groups when absent. */
  readonly adopter?: Adopter;
  /** Told whenever an instance starts, becomes ready or ends: what a later daemon would take over now. */
  readonly onRecords?: (records: readonly InstanceRecord[]) => void;
}

/** Output lines kept for a failed rollout's report. */
const RECENT_LINES = 40;

/**
 * Times in a row an instance whose port was taken starts again at once on a
 * new port before that counts as a crash (restart policy, rollout failure).
 */
const PORT_RETRIES = 3;

/** Process types that run once (release) or on a schedule, never as a service. */
const NOT_SERVICES = new Set(['release', 'build']);

interface Slot {
  readonly type: ProcessType;
  readonly index: number;
  instance: Instance | null;
  /** Exits that were not asked for, since the formation started. */
  exits: number;
  /** Of those, the ones the kernel's OOM killer caused (over the memory limit). */
  oomKills: number;
  lastExit: string | null;
  history: CrashHistory;
  restartTimer: NodeJS.Timeout | null;
  /** Instances started again in a row because their port was someone else's. */
  portRetries: number;
}

/**
 * The set of running instances of one app: N of each process type, kept
 * alive, with the ready `web` instances published to the edge. This is the
 * application server's supervisor (what gunicorn's arbiter or foreman does),
 * with the decisions delegated to the pure policies.
 */
export class Formation {
  readonly #options: FormationOptions;
  readonly #clock: Clock;
  readonly #slots: Slot[] = [];
  #closing: Promise<void> | null = null;
  #published = '';
  readonly #recent: string[] = [];
  /** Instances killed because another process held their port. */
  readonly #portTaken = new WeakSet<Instance>();

  constructor(options: FormationOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    for (const type of options.processes) {
      if (NOT_SERVICES.has(type.name)) continue;
      const count = options.scale[type.name] ?? 1;
      for (let index = 1; index <= count; index++) {
        this.#slots.push({ type, index, instance: null, exits: 0, oomKills: 0, lastExit: null, history: NO_CRASHES, restartTimer: null, portRetries: 0 });
      }
    }
  }

  /**
   * Starts every instance, taking over the running ones a previous daemon
   * left (`adopt`, their processes' identity already verified by the
   * caller) instead of starting their slots again; readiness is reported
   * later through `onUpstreams`. Resolves with whether every taken-over
   * instance was started as this formation would start it now (false: a
   * rolling restart brings them up to date).
   */
  async start(adopt: readonly InstanceRecord[] = []): Promise<{ current: boolean }> {
    let current = true;
    await Promise.all(
      this.#slots.map(async (slot) => {
        const record = adopt.find((r) => r.type === slot.type.name && r.index === slot.index);
        if (record === undefined) return this.#launch(slot);
        const taken = await this.#adopt(slot, record);
        if (taken === 'stale') current = false;
        if (taken === 'no') await this.#launch(slot);
      }),
    );
    this.#record();
    return { current };
  }

  /** The environment and command of a slot's instance on `port`. */
  #commandFor(slot: Slot, port: number | null): { env: Record<string, string>; argv: string[] } {
    const env: Record<string, string> = {
      ...this.#options.env,
      // The Node that runs berth runs the apps too, so `node` in a Procfile
      // is the pinned version rather than whatever the system has.
      PATH: `${this.#options.cwd}/node_modules/.bin:${dirname(process.execPath)}:${this.#options.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
      DYNO: `${slot.type.name}.${slot.index}`,
      BERTH_INSTANCE: `${slot.type.name}.${slot.index}`,
    };
    if (port !== null) env.PORT = String(port);
    return { env, argv: commandToArgv(slot.type.command, env) };
  }

  /**
   * What an instance was started with: command, folder, environment, user.
   * A taken-over instance's is computed again for its recorded port, so
   * equal whenever nothing about how it runs changed.
   */
  #fingerprint(argv: readonly string[], env: Readonly<Record<string, string>>): string {
    const user = this.#options.user ?? null;
    return createHash('sha256').update(JSON.stringify([argv, this.#options.cwd, Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), user])).digest('hex').slice(0, 32);
  }

  /** Takes a running instance over: 'yes', 'stale' (taken, but started with something else), or 'no' (ended; its slot starts afresh). */
  async #adopt(slot: Slot, record: InstanceRecord): Promise<'yes' | 'stale' | 'no'> {
    const name = `${slot.type.name}.${slot.index}`;
    const isWeb = slot.type.name === 'web';
    const end = async (why: string, adopted?: LaunchedProcess) => {
      this.#options.log(name, `not taken over (${why}): starting it afresh`, 'event');
      if (adopted) {
        adopted.signal('SIGKILL');
        await adopted.release().catch(() => {});
      } else {
        try {
          process.kill(-record.identity.pgid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      return 'no' as const;
    };
    if (isWeb !== (record.port !== null)) return end('its port does not fit its type');
    let command: { env: Record<string, string>; argv: string[] };
    try {
      command = this.#commandFor(slot, record.port);
    } catch {
      return end('its command no longer parses');
    }
    const adopter = this.#options.adopter ?? plainAdopter;
    const adopted = await adopter(record.handle, record.identity, record.limits).catch(() => null);
    if (adopted === null) return end('its sandbox is gone');
    const instance = new Instance({ type: slot.type.name, index: slot.index, argv: command.argv, cwd: this.#options.cwd, env: command.env, port: record.port, user: this.#options.user ?? null, ...(this.#options.launcher ? { launcher: this.#options.launcher } : {}), ...(this.#options.outputDir ? { outputDir: this.#options.outputDir } : {}) });
    if (isWeb) {
      // Serving before, and still its own port's only listener (and accepting): never traffic to anything else.
      const owner: PortOwner = adopted.ownNetwork ? { kind: 'own-network' } : this.#options.user ? { kind: 'uid', uid: this.#options.user.uid } : { kind: 'group', pgid: record.identity.pgid };
      const probe = await probeInstance(adopted.host, record.port!, null, owner).catch(() => ({ kind: 'refused' }) as const);
      if (probe.kind !== 'listening') return end(probe.kind === 'port-taken' ? `its port ${record.port} is held by another process (uid ${probe.uid})` : `nothing accepts on its port ${record.port}`, adopted);
    }
    slot.instance = instance;
    const log = this.#options.log;
    await instance.adopt(
      record.startedAt,
      adopted,
      record,
      (stream, line) => {
        this.#remember(`${instance.name}: ${line}`);
        log(instance.name, line, stream);
      },
      (info) => this.#onExit(slot, instance, info),
    );
    instance.state = 'ready';
    log(instance.name, `taken over (pid ${record.identity.pid}${record.port !== null ? `, port ${record.port}` : ''})`, 'event');
    if (isWeb) await this.#publish();
    return this.#fingerprint(command.argv, command.env) === record.fingerprint ? 'yes' : 'stale';
  }

  /** What a later daemon would take over now: every instance started and not stopping, with its process's identity. */
  records(): InstanceRecord[] {
    const records: InstanceRecord[] = [];
    for (const slot of this.#slots) {
      const instance = slot.instance;
      if (!instance || (instance.state !== 'starting' && instance.state !== 'ready')) continue;
      const takeover = instance.takeover();
      if (takeover === null) continue;
      records.push({ ...takeover, type: slot.type.name, index: slot.index, port: instance.spec.port, startedAt: instance.startedAt, fingerprint: this.#fingerprint(instance.spec.argv, instance.spec.env) });
    }
    return records;
  }

  #record(): void {
    if (this.#closing) return;
    this.#options.onRecords?.(this.records());
  }

  /**
   * Lets every instance go on running without this formation: restarts
   * pending are dropped, output is read to here and the files are left.
   * Resolves with what the next daemon needs to take them over.
   */
  async detach(): Promise<InstanceRecord[]> {
    const records = this.records();
    this.#closing ??= Promise.resolve();
    for (const slot of this.#slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
    }
    const byName = new Map(records.map((record) => [`${record.type}.${record.index}`, record]));
    const detached: InstanceRecord[] = [];
    await Promise.all(
      this.#slots.map(async (slot) => {
        const instance = slot.instance;
        const record = instance ? byName.get(instance.name) : undefined;
        if (!instance || record === undefined) return;
        const takeover = await instance.detach();
        if (takeover !== null) detached.push({ ...record, offsets: takeover.offsets });
      }),
    );
    return detached;
  }

  /** The current instances with their states, for `ps` and tests; `lastExit` says how the slot's last unasked exit went ("out of memory: …", "code 1"). */
  instances(): Array<{ name: string; state: InstanceState; pid: number | undefined; port: number | null; startedAt: number; lastExit: string | null }> {
    return this.#slots
      .filter((slot) => slot.instance !== null)
      .map((slot) => {
        const instance = slot.instance!;
        return { name: instance.name, state: instance.state, pid: instance.pid, port: instance.spec.port, startedAt: instance.startedAt, lastExit: slot.lastExit };
      });
  }

  /** What each current instance uses and may use (null where nothing measures it: no sandbox). */
  async usage(): Promise<Map<string, { usage: ResourceUsage | null; limits: ResourceLimits | null }>> {
    const result = new Map<string, { usage: ResourceUsage | null; limits: ResourceLimits | null }>();
    await Promise.all(
      this.#slots.map(async (slot) => {
        const process = slot.instance?.process;
        if (!slot.instance || !process) return;
        result.set(slot.instance.name, { usage: await process.usage().catch(() => null), limits: process.limits });
      }),
    );
    return result;
  }

  /** Each instance's supervision facts, for metrics: when its process started, and its slot's unasked exits (each followed by a restart) since this formation started. */
  vitals(): InstanceVitals[] {
    return this.#slots
      .filter((slot) => slot.instance !== null)
      .map((slot) => {
        const instance = slot.instance!;
        return { name: instance.name, type: slot.type.name, state: instance.state, pid: instance.pid, startedAt: instance.startedAt, restarts: slot.exits, oomKills: slot.oomKills };
      });
  }

  /** Every instance with its exits since the start, for judging a rollout. */
  rolloutView(): RolloutInstance[] {
    return this.#slots.map((slot) => ({
      name: `${slot.type.name}.${slot.index}`,
      type: slot.type.name,
      state: slot.instance?.state ?? 'starting',
      exits: slot.exits,
      lastExit: slot.lastExit,
    }));
  }

  /** The last lines the instances printed, oldest first (for a failed deploy's report). */
  recentOutput(): string[] {
    return [...this.#recent];
  }

  /** Resolves when every web instance is ready, or rejects after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = this.#clock.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        const web = this.#slots.filter((slot) => slot.type.name === 'web');
        if (web.every((slot) => slot.instance?.state === 'ready')) return resolve();
        if (this.#closing) return reject(new Error('formation is stopping'));
        if (this.#clock.now() >= deadline) return reject(new Error('web instances did not become ready in time'));
        setTimeout(check, 50).unref();
      };
      check();
    });
  }

  async #launch(slot: Slot): Promise<void> {
    if (this.#closing) return;
    const isWeb = slot.type.name === 'web';
    const port = isWeb ? await (this.#options.choosePort ?? findFreePort)() : null;
    let env: Record<string, string>;
    let argv: string[];
    try {
      ({ env, argv } = this.#commandFor(slot, port));
    } catch (err) {
      this.#options.log(`${slot.type.name}.${slot.index}`, (err as Error).message, 'event');
      return;
    }
    const instance = new Instance({ type: slot.type.name, index: slot.index, argv, cwd: this.#options.cwd, env, port, user: this.#options.user ?? null, ...(this.#options.launcher ? { launcher: this.#options.launcher } : {}), ...(this.#options.outputDir ? { outputDir: this.#options.outputDir } : {}) });
    slot.instance = instance;
    const log = this.#options.log;
    await instance.start(
      this.#clock.now(),
      (stream, line) => {
        this.#remember(`${instance.name}: ${line}`);
        log(instance.name, line, stream);
      },
      (info) => this.#onExit(slot, instance, info),
    );
    log(instance.name, `started (pid ${instance.pid ?? '?'}${port !== null ? `, port ${port}` : ''})`, 'event');
    if (isWeb) void this.#probeUntilReady(slot, instance);
    else instance.state = 'ready';
    this.#record();
  }

  /** Whose sockets count as the instance's: its own network (a sandbox), the app's uid, or (everything runs as one uid) the instance's process group. */
  #ownerOf(instance: Instance): PortOwner | null {
    if (instance.process?.ownNetwork) return { kind: 'own-network' };
    const user = this.#options.user ?? null;
    if (user !== null) return { kind: 'uid', uid: user.uid };
    return instance.pid === undefined ? null : { kind: 'group', pgid: instance.pid };
  }

  async #probeUntilReady(slot: Slot, instance: Instance): Promise<void> {
    const policy = this.#options.readinessPolicy ?? DEFAULT_READINESS_POLICY;
    const owner = this.#ownerOf(instance);
    // No pid: the process never started, and its exit is on its way.
    if (owner === null) return;
    let reported = false;
    while (instance.state === 'starting') {
      const result = await probeInstance(instance.process?.host ?? '127.0.0.1', instance.spec.port!, this.#options.healthPath, owner);
      if (instance.state !== 'starting') return;
      const verdict = judgeProbe(result, this.#options.healthPath, instance.startedAt, this.#clock.now(), policy);
      if (verdict.kind === 'port-taken') {
        // Never traffic to a listener that is not the instance's: the
        // instance starts again on a new port (see #onExit).
        this.#options.log(instance.name, portTakenMessage(instance.spec.port!, verdict.uid, instance.name), 'event');
        this.#portTaken.add(instance);
        instance.kill('SIGKILL');
        return;
      }
      if (verdict.kind === 'ready') {
        slot.portRetries = 0;
        instance.state = 'ready';
        this.#record();
        // "ready" is said once the instance takes traffic, not before.
        await this.#publish();
        this.#options.log(instance.name, `ready on port ${instance.spec.port}`, 'event');
        return;
      }
      if (verdict.overdue && !reported) {
        reported = true;
        this.#options.log(instance.name, `not ready after ${Math.round(policy.deadlineMs / 1000)}s: ${verdict.reason}`, 'event');
      }
      await new Promise((resolve) => setTimeout(resolve, verdict.afterMs));
    }
  }

  #onExit(slot: Slot, instance: Instance, info: ExitInfo): void {
    // Killed for memory: said in words, never as "signal SIGKILL" or "code 137".
    const how = info.outOfMemory ? outOfMemoryMessage(instance.name, info.outOfMemory.peakBytes, info.outOfMemory.limitBytes) : info.unknown ? 'status unknown: a previous daemon started it' : info.signal ? `signal ${info.signal}` : `code ${info.code}`;
    // Once this exit's state changes below are made.
    queueMicrotask(() => this.#record());
    if (instance.stopRequested || this.#closing) {
      instance.state = 'stopped';
      this.#options.log(instance.name, `stopped (${how})`, 'event');
      this.#publish();
      return;
    }
    if (this.#portTaken.has(instance) && slot.portRetries < PORT_RETRIES) {
      // Not the app's fault: a new port at once, not counted as a crash.
      slot.portRetries++;
      instance.state = 'stopped';
      this.#options.log(instance.name, 'starting again on a new port', 'event');
      void this.#launch(slot);
      return;
    }
    instance.state = 'crashed';
    slot.exits++;
    if (info.outOfMemory) slot.oomKills++;
    slot.lastExit = how;
    this.#publish();
    const decision = decideRestart(slot.history, instance.startedAt, this.#clock.now(), this.#options.restartPolicy ?? DEFAULT_RESTART_POLICY);
    slot.history = decision.history;
    const delay = decision.delayMs >= 1000 ? `${(decision.delayMs / 1000).toFixed(1)}s` : `${decision.delayMs}ms`;
    if (info.outOfMemory) this.#options.log(instance.name, how, 'event');
    this.#options.log(
      instance.name,
      decision.crashLoop
        ? `crash loop: exited with ${how}, ${decision.history.quickCrashes} times in a row within seconds of starting; next attempt in ${delay}`
        : info.outOfMemory
          ? `restarting in ${delay}`
          : `crashed (${how}); restarting in ${delay}`,
      'event',
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      void this.#launch(slot);
    }, decision.delayMs);
  }

  #remember(line: string): void {
    this.#recent.push(line);
    if (this.#recent.length > RECENT_LINES) this.#recent.shift();
  }

  /** The web instances ready to take traffic now. */
  readyUpstreams(): ReadyUpstream[] {
    const ready: ReadyUpstream[] = [];
    for (const slot of this.#slots) {
      const instance = slot.instance;
      if (instance && instance.state === 'ready' && instance.spec.port !== null) {
        ready.push({ id: instance.name, host: instance.process?.host ?? '127.0.0.1', port: instance.spec.port });
      }
    }
    return ready;
  }

  #publish(): Promise<void> {
    const ready = this.readyUpstreams();
    const key = ready.map((u) => `${u.id}@${u.port}`).join(',');
    if (key === this.#published) return Promise.resolve();
    this.#published = key;
    return Promise.resolve(this.#options.onUpstreams(ready)).catch(() => {});
  }

  /** Restarts one instance (or all of a type) the graceful way. */
  async restart(name: string): Promise<void> {
    const slot = this.#slots.find((s) => s.instance?.name === name);
    if (!slot?.instance) return;
    await this.#stopSlot(slot);
    await this.#launch(slot);
  }

  /** For tests and `ps`: the instance object behind a name. */
  instance(name: string): Instance | undefined {
    return this.#slots.find((s) => s.instance?.name === name)?.instance ?? undefined;
  }

  async #stopSlot(slot: Slot): Promise<void> {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    const instance = slot.instance;
    if (!instance || instance.state === 'stopped' || instance.state === 'crashed') return;
    const deadline = this.#clock.now() + this.#options.graceMs;
    const wasReady = instance.state === 'ready';
    instance.state = 'draining';
    this.#publish();
    if (wasReady && instance.spec.port !== null && this.#options.drain) {
      await this.#options.drain({ id: instance.name, host: instance.process?.host ?? '127.0.0.1', port: instance.spec.port }, deadline);
    }
    // However long the drain took, the process still gets a moment to exit on its own.
    await instance.stop(Math.max(500, deadline - this.#clock.now()));
  }

  /** Last resort (a second Ctrl-C): SIGKILL every instance's process group now. */
  kill(): void {
    for (const slot of this.#slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.instance?.kill('SIGKILL');
    }
  }

  /** Drains and stops every instance; idempotent. */
  stop(): Promise<void> {
    this.#closing ??= Promise.all(this.#slots.map((slot) => this.#stopSlot(slot))).then(() => undefined);
    return this.#closing;
  }
}
