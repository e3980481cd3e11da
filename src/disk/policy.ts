import { formatBytes } from '../units.ts';

// What an app keeps on disk, and what berth does when it is more than the
// app may keep. Pure: the measurements come in as plain data.

/** Where an app's bytes are: its releases (every kept build), its build cache, its HOME, its data folder, its logs. */
export const DISK_PARTS = ['releases', 'cache', 'home', 'data', 'logs'] as const;
export type DiskPart = (typeof DISK_PARTS)[number];

export interface DiskUsage {
  readonly parts: Readonly<Record<DiskPart, number>>;
  readonly totalBytes: number;
  /** When it was measured (ms since the epoch). */
  readonly measuredAt: number;
}

/** The server's default disk limit per app (`--default-disk`). */
export const DEFAULT_DISK_BYTES = 10 * 1024 ** 3;

/**
 * How often every app is measured (`--disk-check-interval`): what an app
 * can write past its limit before it is stopped is what it writes in this
 * long, so short; du over a few thousand files takes milliseconds.
 */
export const DISK_CHECK_INTERVAL_MS = 10_000;

/** An app's disk limit: its berth.toml's [resources] disk, else the server's default (null: none). */
export function diskLimit(serverDefault: number | null, fromConfig: number | undefined): number | null {
  return fromConfig ?? serverDefault;
}

export function usageOf(parts: Readonly<Record<DiskPart, number>>, measuredAt: number): DiskUsage {
  return { parts, totalBytes: DISK_PARTS.reduce((sum, part) => sum + parts[part], 0), measuredAt };
}

/** "data 60 MiB, releases 8.1 MiB": the parts that hold anything, largest first. */
export function describeParts(usage: DiskUsage): string {
  const held = DISK_PARTS.filter((part) => usage.parts[part] > 0).sort((a, b) => usage.parts[b] - usage.parts[a]);
  return held.length === 0 ? 'nothing' : held.map((part) => `${part} ${formatBytes(usage.parts[part])}`).join(', ');
}

export type DiskState = 'under' | 'over';

export interface DiskDecision {
  readonly state: DiskState;
  /** stop: the app's instances (and its build) stop now; resume: they start again; none: nothing changes. */
  readonly action: 'none' | 'stop' | 'resume';
}

/**
 * The periodic check: an app over its limit has its instances stopped (their
 * writes would only add to it) until it is at or under the limit again;
 * then they start again. No limit: always under.
 */
export function diskDecision(previous: DiskState, totalBytes: number, limitBytes: number | null): DiskDecision {
  const over = limitBytes !== null && totalBytes > limitBytes;
  if (over) return { state: 'over', action: previous === 'over' ? 'none' : 'stop' };
  return { state: 'under', action: previous === 'over' ? 'resume' : 'none' };
}

/** The one line an app's log (and the operator) gets when its instances are stopped for disk. */
export function overLimitMessage(app: string, usage: DiskUsage, limitBytes: number): string {
  return `disk: ${app} uses ${formatBytes(usage.totalBytes)}, over its ${formatBytes(limitBytes)} limit (${describeParts(usage)}); its instances are stopped until it is under`;
}

export function underLimitMessage(app: string, usage: DiskUsage, limitBytes: number): string {
  return `disk: ${app} uses ${formatBytes(usage.totalBytes)} of its ${formatBytes(limitBytes)} limit again; its instances start`;
}

/**
 * A deploy, once built: refused (the message says why) when the app with
 * the new build would be over the new release's limit; null when it fits.
 */
export function deployDiskVerdict(app: string, usage: DiskUsage, limitBytes: number | null): string | null {
  if (limitBytes === null || usage.totalBytes <= limitBytes) return null;
  return `${app} would use ${formatBytes(usage.totalBytes)} with this build, over its ${formatBytes(limitBytes)} disk limit (${describeParts(usage)})`;
}

/** Why a change that would start the app's instances is refused while it is over its limit. */
export function stillOverMessage(app: string, usage: DiskUsage, limitBytes: number): string {
  return `${app} uses ${formatBytes(usage.totalBytes)}, over its ${formatBytes(limitBytes)} disk limit (${describeParts(usage)}); its instances stay stopped until it is under`;
}

export const DISK_HINT = 'Raise [resources] disk in berth.toml and deploy (the app can then remove what it no longer needs), or as root on the server remove files from its home (STATE/apps/NAME/home) or data folder (STATE/data/NAME); the app starts again at the next check once it is under.';
