// Which uid a new app's Unix user gets. berth chooses it itself (useradd
// --uid) from a range of its own, and never gives a uid to a second app: a
// process a destroyed app left behind, or a file it left in a shared
// folder, must never become the next tenant's. Pure: the caller reads
// passwd, group, login.defs and /etc/subuid and the store's record of every
// uid berth ever gave.

/** An inclusive range of ids. */
export interface IdRange {
  readonly first: number;
  readonly last: number;
}

/**
 * berth's app uids (and their groups' gids, the same number): above the
 * regular users useradd hands out (UID_MAX 60000 by default), above the
 * ids systemd keeps for itself (homed 60001–60513, DynamicUser
 * 61184–65519, nobody 65534), below the subordinate ranges useradd gives
 * for user namespaces (SUB_UID_MIN 100000). 30,000 apps over a machine's
 * life; a full range is an error, never a reuse.
 */
export const APP_UID_RANGE: IdRange = { first: 70_000, last: 99_999 };

export interface UidAllocationInput {
  readonly range: IdRange;
  /** Every uid berth has ever given an app (the store's record), destroyed apps' included. */
  readonly everAllocated: ReadonlySet<number>;
  /** uids in passwd and gids in group: taken by someone, whoever. */
  readonly usedUids: ReadonlySet<number>;
  readonly usedGids: ReadonlySet<number>;
  /** Ranges nobody else may give out either: login.defs' UID_MIN–UID_MAX and SYS_UID_MIN–SYS_UID_MAX (and GID), /etc/subuid and /etc/subgid. */
  readonly reserved: readonly IdRange[];
}

/**
 * The next uid for an app: the smallest id of the range above every uid
 * berth ever gave (so a uid is never reused, even one whose user is gone),
 * that no user or group has and that no reserved range holds. Null when the
 * range is used up.
 */
export function chooseAppUid(input: UidAllocationInput): number | null {
  let start = input.range.first;
  for (const uid of input.everAllocated) if (uid >= start && uid <= input.range.last) start = uid + 1;
  for (let uid = start; uid <= input.range.last; uid++) {
    if (input.usedUids.has(uid) || input.usedGids.has(uid)) continue;
    const inside = input.reserved.find((r) => uid >= r.first && uid <= r.last);
    if (inside !== undefined) {
      uid = inside.last; // the loop's ++ steps past it
      continue;
    }
    return uid;
  }
  return null;
}

/** The ids (third field) of passwd or group lines. */
export function idsOfDatabase(text: string): Set<number> {
  const ids = new Set<number>();
  for (const line of text.split('\n')) {
    const id = Number(line.split(':')[2]);
    if (line.includes(':') && Number.isInteger(id)) ids.add(id);
  }
  return ids;
}

/** The ranges of /etc/subuid or /etc/subgid (`owner:first:count` lines). */
export function subordinateRanges(text: string): IdRange[] {
  const ranges: IdRange[] = [];
  for (const line of text.split('\n')) {
    const [, first, count] = line.trim().split(':');
    const f = Number(first);
    const c = Number(count);
    if (first === undefined || count === undefined || !Number.isInteger(f) || !Number.isInteger(c) || c <= 0) continue;
    ranges.push({ first: f, last: f + c - 1 });
  }
  return ranges;
}

/** The id ranges login.defs gives useradd/groupadd to choose from (its defaults where a key is missing). */
export function loginDefsRanges(text: string): IdRange[] {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_]+)\s+(\d+)\s*$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  const range = (min: string, max: string, defMin: number, defMax: number): IdRange => ({ first: values.get(min) ?? defMin, last: values.get(max) ?? defMax });
  return [
    range('UID_MIN', 'UID_MAX', 1000, 60000),
    range('SYS_UID_MIN', 'SYS_UID_MAX', 101, (values.get('UID_MIN') ?? 1000) - 1),
    range('GID_MIN', 'GID_MAX', 1000, 60000),
    range('SYS_GID_MIN', 'SYS_GID_MAX', 101, (values.get('GID_MIN') ?? 1000) - 1),
  ];
}
