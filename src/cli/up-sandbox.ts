import { chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AppConfig, AppPlan } from '../build/index.ts';
import { Containment, type ProcessContext } from '../platform/index.ts';
import { randomInt } from 'node:crypto';
import { BerthError } from '../errors.ts';
import { DEFAULT_INSTANCE_LIMITS, LAST_LINK_SLOT, Sandboxes, type SandboxMode } from '../sandbox/index.ts';

// `berth up` as root contains the app as `berth server` does: the same
// Sandboxes and Containment, so what works under `up` works in production
// (its folder read-only, a HOME of its own, its own processes and network,
// the [resources] limits). Its sandboxes live in a folder of their own
// under /run, taken down when `up` ends. It runs as the owner of the app's
// folder (nobody when root owns it): never as root.

const NOBODY = 65_534;

export interface UpContainment {
  /** How the instances start; null when uncontained. */
  readonly context: ProcessContext | null;
  /** HOME inside the sandbox (null when uncontained). */
  readonly home: string | null;
  /** Who the app runs as inside (null when uncontained: as whoever runs berth up). */
  readonly user: { readonly uid: number; readonly gid: number } | null;
  /** Why the app runs uncontained, or null. */
  readonly reason: string | null;
  close(): Promise<void>;
}

/** A name for the app's sandbox (its hostname, its network's name) from its folder's name. Pure. */
export function upAppName(dir: string): string {
  const name = basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30).replace(/-+$/, '');
  return /^[a-z]/.test(name) ? name : `app${name === '' ? '' : `-${name}`}`.slice(0, 30);
}

export async function upContainment(dir: string, plan: Extract<AppPlan, { kind: 'processes' }>, config: AppConfig, mode: SandboxMode, log: (line: string) => void): Promise<UpContainment> {
  const uncontained = (reason: string): UpContainment => ({ context: null, home: null, user: null, reason, close: async () => {} });
  if (mode === 'off') return uncontained('sandboxes are turned off (--sandbox off)');
  if (process.getuid?.() !== 0) {
    if (mode === 'required') throw new BerthError('BERTH_E_SANDBOX', 'the app cannot be contained: berth is not running as root', { status: 500, hint: 'Run berth up as root, or with --sandbox auto to run the app uncontained.' });
    return uncontained('berth is not running as root');
  }
  const owner = await stat(dir);
  const user = owner.uid === 0 ? { uid: NOBODY, gid: NOBODY } : { uid: owner.uid, gid: owner.gid };
  const closed = await closedTo(dir, user);
  if (closed !== null) {
    const reason = `${closed} is closed to uid ${user.uid}, whom the app would run as (${owner.uid === 0 ? 'its folder is root\'s' : 'its folder\'s owner'}); chown the folder to a user, or make it and its parents readable (chmod o+rx), to run it contained`;
    if (mode === 'required') throw new BerthError('BERTH_E_SANDBOX', `the app cannot be contained: ${reason}`, { status: 500, hint: 'berth up runs the app as its folder\'s owner (nobody when root owns it), never as root.' });
    return uncontained(reason);
  }
  await mkdir('/run/berth', { recursive: true, mode: 0o711 });
  const stateDir = await mkdtemp('/run/berth/up-');
  const opened = await Sandboxes.open({ stateDir, log, mode }).catch(async (err: unknown) => {
    await rm(stateDir, { recursive: true, force: true });
    throw err;
  });
  if (opened.sandboxes === null) {
    await rm(stateDir, { recursive: true, force: true });
    return uncontained(opened.reason);
  }
  const sandboxes = opened.sandboxes;
  const app = upAppName(dir);
  // Made and given in root's fresh 0700 folder, before anything of the app runs: no link can be there.
  const home = join(stateDir, 'home');
  await mkdir(home, { mode: 0o700 });
  await chown(home, user.uid, user.gid);
  let containment: Containment | null = null;
  const close = async () => {
    await containment?.remove(app).catch((err: Error) => log(`cannot take the app's network down: ${err.message}`));
    await sandboxes.close();
    await Sandboxes.purge(stateDir, log);
    await rm(stateDir, { recursive: true, force: true });
  };
  try {
    // Its user is no app user, so its link slot is not its uid's: one free
    // in the top of the range (app users' slots fill it from the bottom),
    // another when a berth up or server beside it holds that one.
    for (let attempt = 1; ; attempt++) {
      containment = new Containment({ sandboxes, uncontainedReason: null, stateDir, instanceDefaults: DEFAULT_INSTANCE_LIMITS, buildMemoryBytes: null, linkSlot: LAST_LINK_SLOT - randomInt(UP_SLOTS) });
      try {
        const context = await containment.release(app, user, { dir: stateDir, home, cache: home, builds: stateDir }, { dir, plan, config }, {}, {});
        log(`the app runs contained, as uid ${user.uid}: ${dir} read-only, HOME ${home}`);
        return { context, home, user, reason: null, close };
      } catch (err) {
        if (!(err instanceof BerthError && err.code === 'BERTH_E_SANDBOX_NETWORK') || attempt === 8) throw err;
        await containment.remove(app).catch(() => {});
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
}

/** The first folder from `dir` up to / that `user` could not pass (or, for `dir` itself, list and read), or null. */
async function closedTo(dir: string, user: { uid: number; gid: number }): Promise<string | null> {
  const allowed = (st: Awaited<ReturnType<typeof stat>>, bits: number) => {
    const mode = Number(st.mode);
    if (Number(st.uid) === user.uid) return ((mode >> 6) & bits) === bits;
    if (Number(st.gid) === user.gid) return ((mode >> 3) & bits) === bits;
    return (mode & bits) === bits;
  };
  if (!allowed(await stat(dir), 0o5)) return dir;
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if (!allowed(await stat(parent), 0o1)) return parent;
    if (parent === '/') return null;
  }
}

/** The slots `berth up` picks from, at the top of the range. */
const UP_SLOTS = 1024;
