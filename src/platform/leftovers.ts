import { endProcessesExcept, endProcessesOf, listProcesses, reapOrphans, type InstanceRecord } from '../runner/index.ts';
import { findUser } from './app-users.ts';
import type { Containment } from './containment.ts';
import type { InstanceRecords } from './instance-takeover.ts';
import type { Store } from './store.ts';

// What a starting daemon finds of the last one: the instances it takes
// over (recorded, verified as the very processes recorded), and everything
// else of berth's that still runs — an interrupted build, a cron run, a
// one-off command, an instance that failed its check, something an app
// started and hid. That is ended before anything of this daemon runs as an
// app's user: the takeover's processes alone are spared.

export interface StockOptions {
  readonly store: Store;
  readonly records: InstanceRecords;
  readonly containment: Containment;
  /** The tag of this state folder's processes (SUPERVISOR_ENV). */
  readonly supervisorMarker: string;
  /** Apps run as users of their own (berth is root). */
  readonly appUsers: boolean;
  /** Instances are taken over at all (not on a cluster). */
  readonly takeOver: boolean;
  readonly log: (line: string) => void;
}

/** The processes that belong to instances being taken over, now: their sandboxes' groups, or their process groups. */
async function sparedPids(taken: readonly InstanceRecord[], containment: Containment): Promise<Set<number>> {
  const spared = new Set<number>();
  const groups = new Set(taken.filter((record) => record.handle.cgroup === null).map((record) => record.identity.pgid));
  if (groups.size > 0) for (const p of await listProcesses()) if (groups.has(p.pgid)) spared.add(p.pid);
  for (const record of taken) {
    if (record.handle.cgroup === null) continue;
    for (const pid of await containment.pidsIn(record.handle.cgroup)) spared.add(pid);
  }
  return spared;
}

/**
 * Judges every app's recorded instances, then ends what is left over.
 * Returns the instances to take over, by app.
 */
export async function takeStock(options: StockOptions): Promise<Map<string, InstanceRecord[]>> {
  const stock = new Map<string, InstanceRecord[]>();
  const apps = options.store.listApps();
  if (options.takeOver) {
    for (const app of apps) {
      const verdict = await options.records.judge(app.name, options.store.currentRelease(app.name)?.version ?? null, options.containment.enabled);
      for (const { record, reason } of verdict.dropped) options.log(`${app.name}: ${record.type}.${record.index} (pid ${record.identity.pid}) is not taken over: ${reason}`);
      if (verdict.adopt.length > 0) stock.set(app.name, verdict.adopt);
    }
  }
  const taken = [...stock.values()].flat();
  // Tagged and orphaned: instances, builds, release commands and cron runs of a daemon that did not stop them.
  const reaped = reapOrphans(options.supervisorMarker, new Set(taken.map((record) => record.identity.pgid)));
  if (reaped.length > 0) options.log(`stopped ${reaped.length} process group(s) (instances, builds, cron runs) a previous daemon left running`);
  if (options.appUsers) await endAppUsersLeftovers(options, stock);
  // Sandboxes nobody takes over: their processes end with their control groups.
  const kept = new Set(taken.flatMap((record) => (record.handle.cgroup === null ? [] : [record.handle.cgroup])));
  const swept = await options.containment.sweep(kept).catch((err: Error) => (options.log(`sandboxes: cannot sweep what a previous daemon left: ${err.message}`), 0));
  if (swept > 0) options.log(`ended ${swept} sandbox(es) a previous daemon left running`);
  for (const app of apps) {
    const files = new Set((stock.get(app.name) ?? []).flatMap((record) => [record.output.out, record.output.err]));
    await options.records.pruneOutput(app.name, files);
  }
  if (taken.length > 0) options.log(`taking over ${taken.length} running instance(s) of ${stock.size} app(s)`);
  return stock;
}

/**
 * Ends every process of the app users berth ever made but the instances
 * taken over: a process with a clean environment (no supervisor tag), in a
 * session of its own, double-forked to init is still its user's. Add-on
 * servers run as their own system users, never as app users, so they stay.
 */
async function endAppUsersLeftovers(options: StockOptions, stock: ReadonlyMap<string, readonly InstanceRecord[]>): Promise<void> {
  const taken = [...stock.values()].flat();
  const gids = new Map<number, number>();
  for (const app of options.store.listApps()) {
    if (app.uid === null) continue;
    const user = await findUser(app.uid).catch(() => null);
    if (user !== null) gids.set(user.uid, user.gid);
  }
  // The uids whose instances are taken over: only their other processes are ended, one by one.
  const uidsTaken = new Set<number>();
  for (const appName of stock.keys()) {
    const uid = options.store.getApp(appName).uid;
    if (uid !== null) uidsTaken.add(uid);
  }
  // One look at /proc; only the uids that have processes are signalled.
  const running = new Set((await listProcesses()).filter((p) => p.state !== 'Z').flatMap((p) => p.uids));
  for (const { uid, app } of options.store.allocatedUids()) {
    if (uid === 0 || !running.has(uid)) continue;
    const user = { uid, gid: gids.get(uid) ?? uid };
    const left = uidsTaken.has(uid) ? await endProcessesExcept(user, () => sparedPids(taken, options.containment)) : await endProcessesOf(user);
    if (left.length > 0) options.log(`${app}: ${left.length} process(es) of uid ${uid} left by a previous run could not be ended: ${left.map((p) => p.pid).join(', ')}`);
  }
}
