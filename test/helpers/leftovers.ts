// What a test run may leave behind on the machine, and how to tell: the
// Unix users test daemons make (testUserPrefix: `t` + 6 hex + `-`) and any
// process that runs as one of them or carries a test daemon's supervisor
// tag (BERTH_SUPERVISOR=server:<a state folder under the temp folder>).
// Snapshots are compared, so what existed before the run is never blamed
// on it (another suite on the same machine, a developer's own daemon).

import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { listProcesses } from '../../src/runner/proc-table.ts';

export const TEST_USER = /^t[0-9a-f]{6}-/;

export interface LeftoverProcess {
  readonly pid: number;
  readonly user: string;
  readonly command: string;
}

export interface Snapshot {
  readonly users: ReadonlyMap<string, number>;
  readonly processes: readonly LeftoverProcess[];
}

/** Test users (name → uid) in the text of `getent passwd`. */
export function testUsers(passwd: string): Map<string, number> {
  const users = new Map<string, number>();
  for (const line of passwd.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name !== undefined && TEST_USER.test(name) && Number.isInteger(Number(uid))) users.set(name, Number(uid));
  }
  return users;
}

/** What is in `after` and was not in `before` (processes by pid and command; users by name and uid). */
export function newSince(before: Snapshot, after: Snapshot): Snapshot {
  const oldProcesses = new Set(before.processes.map((p) => `${p.pid} ${p.command}`));
  return {
    users: new Map([...after.users].filter(([name, uid]) => before.users.get(name) !== uid)),
    processes: after.processes.filter((p) => !oldProcesses.has(`${p.pid} ${p.command}`)),
  };
}

export async function snapshot(): Promise<Snapshot> {
  let passwd = '';
  try {
    passwd = execFileSync('getent', ['passwd'], { encoding: 'utf8' });
  } catch {
    // no passwd database to read: no users to find
  }
  const users = testUsers(passwd);
  const byUid = new Map([...users].map(([name, uid]) => [uid, name]));
  const tag = Buffer.from(`BERTH_SUPERVISOR=server:${tmpdir()}/`);
  const processes: LeftoverProcess[] = [];
  for (const p of await listProcesses()) {
    if (p.pid === process.pid || p.state === 'Z') continue;
    const owner = p.uids.map((uid) => byUid.get(uid)).find((name) => name !== undefined);
    let tagged = false;
    if (owner === undefined) {
      try {
        tagged = (await readFile(`/proc/${p.pid}/environ`)).includes(tag);
      } catch {
        // gone, or not ours to read
      }
    }
    if (owner !== undefined || tagged) processes.push({ pid: p.pid, user: owner ?? String(p.uids[0]), command: p.command });
  }
  return { users, processes };
}

export function describe(left: Snapshot): string[] {
  return [
    ...[...left.users].map(([name, uid]) => `user ${name} (uid ${uid})`),
    ...left.processes.map((p) => `process ${p.pid} as ${p.user}: ${JSON.stringify(p.command.slice(0, 200))}`),
  ];
}
