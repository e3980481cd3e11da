import { mkdirSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { identityMismatch, readProcessNow, type InstanceRecord, type ProcessNow } from '../runner/index.ts';
import { writeFileAtomic } from './atomic-file.ts';

// Instances outlive the daemon (a control-plane restart, an upgrade, a
// crash): the daemon records, per app, what it would take to take its
// serving release's instances over (STATE/run/instances/NAME.json, root's),
// and the next daemon takes over those that are still the very processes
// recorded. Judging is pure; reading and writing are thin.

const IDENTITY = z.object({ pid: z.number().int().min(2), startTime: z.number().int().min(0), pgid: z.number().int().min(1), uid: z.number().int().min(0) });
const RECORD = z.object({
  type: z.string().regex(/^[a-z][a-z0-9_-]{0,29}$/),
  index: z.number().int().min(1).max(1000),
  port: z.number().int().min(1).max(65535).nullable(),
  startedAt: z.number(),
  fingerprint: z.string().regex(/^[0-9a-f]{1,64}$/),
  handle: z.object({ pid: z.number().int().min(2), cgroup: z.string().max(512).nullable() }),
  identity: IDENTITY,
  output: z.object({ out: z.string().max(4096), err: z.string().max(4096) }),
  offsets: z.object({ out: z.number().int().min(0), err: z.number().int().min(0) }),
  limits: z.object({ memoryBytes: z.number().nullable(), cpu: z.number().nullable(), processes: z.number().nullable() }).nullable(),
});
const FILE = z.object({ release: z.number().int().min(1), records: z.array(RECORD).max(1000) });

/** What one app's file says: the release its records belong to. */
export interface RecordedInstances {
  readonly release: number;
  readonly records: readonly InstanceRecord[];
}

export interface TakeoverVerdict {
  readonly adopt: InstanceRecord[];
  readonly dropped: Array<{ readonly record: InstanceRecord; readonly reason: string }>;
}

/**
 * Which recorded instances the next daemon takes over: those of the app's
 * current release whose process is still the one recorded (pid, start
 * time, group, uid), whose files are in the app's own output folder and
 * that runs contained as apps run now (`contained`), one per slot. Everything else is dropped with the reason (its processes
 * are then ended as leftovers).
 */
export function judgeTakeover(recorded: RecordedInstances | null, currentRelease: number | null, outputDir: string, now: ReadonlyMap<number, ProcessNow | null>, contained: boolean): TakeoverVerdict {
  const verdict: TakeoverVerdict = { adopt: [], dropped: [] };
  if (recorded === null) return verdict;
  const slots = new Set<string>();
  for (const record of recorded.records) {
    const drop = (reason: string) => verdict.dropped.push({ record, reason });
    if (currentRelease === null) {
      drop('the app serves no release now');
      continue;
    }
    if (recorded.release !== currentRelease) {
      drop(`it belongs to v${recorded.release}, not the current v${currentRelease}`);
      continue;
    }
    const slot = `${record.type}.${record.index}`;
    if (slots.has(slot)) {
      drop(`${slot} is recorded twice`);
      continue;
    }
    if (!insideFolder(record.output.out, outputDir) || !insideFolder(record.output.err, outputDir)) {
      drop('its output files are not in the app\'s output folder');
      continue;
    }
    if (record.handle.pid !== record.identity.pid) {
      drop('its record does not hold together');
      continue;
    }
    if ((record.handle.cgroup !== null) !== contained) {
      drop(contained ? 'apps run in sandboxes now, and it does not' : 'apps no longer run in sandboxes, and it does');
      continue;
    }
    const mismatch = identityMismatch(record.identity, now.get(record.identity.pid) ?? null);
    if (mismatch !== null) {
      drop(mismatch);
      continue;
    }
    slots.add(slot);
    verdict.adopt.push(record);
  }
  return verdict;
}

function insideFolder(path: string, folder: string): boolean {
  if (!path.startsWith(`${folder}/`)) return false;
  const name = path.slice(folder.length + 1);
  return /^[A-Za-z0-9_.-]+$/.test(name) && name !== '.' && name !== '..';
}

/** The files behind the records, and the takeover's reads. */
export class InstanceRecords {
  readonly #stateDir: string;
  /** What each app's file says now, so an unchanged record is not written again. */
  readonly #written = new Map<string, string>();

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
  }

  #dir(): string {
    return join(this.#stateDir, 'run', 'instances');
  }

  /** STATE/logs/NAME/output: the app's instances' output files (root's: the app holds only its descriptors). Counted with the app's logs on its disk. */
  outputDir(app: string): string {
    return join(this.#stateDir, 'logs', app, 'output');
  }

  /** Makes the output folder (root's, 0700) if need be; synchronous, as an instance's files are made in it at once. */
  ensureOutputDir(app: string): string {
    const dir = this.outputDir(app);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** Records what a later daemon would take over of the app (its serving release's instances). */
  save(app: string, release: number, records: readonly InstanceRecord[]): void {
    const text = `${JSON.stringify({ release, records })}\n`;
    if (this.#written.get(app) === text) return;
    mkdirSync(this.#dir(), { recursive: true, mode: 0o700 });
    writeFileAtomic(join(this.#dir(), `${app}.json`), text, 0o600);
    this.#written.set(app, text);
  }

  /** What was recorded for the app (null: nothing, or nothing readable). */
  async read(app: string): Promise<RecordedInstances | null> {
    let text: string;
    try {
      text = await readFile(join(this.#dir(), `${app}.json`), { encoding: 'utf8', flag: 'r' });
    } catch {
      return null;
    }
    try {
      const parsed = FILE.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  /** Reads and judges the app's records against the processes running now. */
  async judge(app: string, currentRelease: number | null, contained: boolean): Promise<TakeoverVerdict> {
    const recorded = await this.read(app);
    const now = new Map<number, ProcessNow | null>();
    for (const record of recorded?.records ?? []) now.set(record.identity.pid, await readProcessNow(record.identity.pid));
    return judgeTakeover(recorded, currentRelease, this.outputDir(app), now, contained);
  }

  /** Removes output files no live record names (what ended instances left), keeping `keep`. */
  async pruneOutput(app: string, keep: ReadonlySet<string>): Promise<void> {
    const dir = this.outputDir(app);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    await Promise.all(names.filter((name) => !keep.has(join(dir, name))).map((name) => rm(join(dir, name), { force: true })));
  }

  /** Drops the app's record (its instances were stopped): nothing to take over. */
  async clear(app: string): Promise<void> {
    this.#written.delete(app);
    await rm(join(this.#dir(), `${app}.json`), { force: true });
  }

  /** Forgets the app (destroyed): its records and output files. */
  async forget(app: string): Promise<void> {
    this.#written.delete(app);
    await rm(join(this.#dir(), `${app}.json`), { force: true });
    await rm(this.outputDir(app), { recursive: true, force: true });
  }
}
