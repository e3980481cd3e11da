import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { DEFAULT_APP_CONFIG } from '../../src/build/index.ts';
import { Store, type BuildManifest, type StoreOptions } from '../../src/platform/index.ts';

/** A fresh state folder (not yet created: the store must create it) removed after the test. */
export function tempStateDir(t: TestContext): string {
  const parent = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  return join(parent, 'state');
}

/** A store on a fresh state folder, closed after the test. */
export function openTempStore(t: TestContext, options: StoreOptions = {}): { dir: string; store: Store } {
  const dir = tempStateDir(t);
  const store = Store.open(dir, options);
  t.after(() => store.close());
  return { dir, store };
}

/** A clock tests move by hand. */
export function fakeClock(start = Date.UTC(2025, 0, 1)): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

/** What a build of a one-process app records (its plan and a default berth.toml). */
export const WEB_MANIFEST: BuildManifest = {
  plan: { kind: 'processes', runtime: 'procfile', processes: [{ name: 'web', command: 'node server.js' }], install: [], path: [], notes: [] },
  config: DEFAULT_APP_CONFIG,
};
