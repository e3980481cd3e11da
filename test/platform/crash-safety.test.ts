import { existsSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { Store } from '../../src/platform/index.ts';
import { tempStateDir } from './store-helpers.ts';

const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const KILLS = 20;

/** mulberry32: a seeded generator, so a failing run can be replayed with BERTH_CRASH_SEED. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  /** What the child printed after each commit: "current alpha 12". */
  lines: string[];
  signal: NodeJS.Signals | null;
}

/** Start the writer, wait until it prints `waitFor`, let it run `delayMs`, SIGKILL it. */
async function runAndKill(dir: string, waitFor: 'opening' | 'ready', delayMs: number): Promise<Run> {
  const child = spawn(process.execPath, [WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let buffered = '';
  let signalled = false;
  const seen = new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line === waitFor && !signalled) {
          signalled = true;
          resolve();
        }
      }
    });
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const early = exited.then(([code]) => {
    throw new Error(`the writer exited (${code}) before it was killed:\n${stderr}`);
  });
  await Promise.race([seen, early]);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  child.kill('SIGKILL');
  const [, signal] = await exited;
  assert.equal(signal, 'SIGKILL', `the writer ended by itself:\n${stderr}`);
  return { lines, signal };
}

function checkRaw(path: string, context: string): void {
  // Killed before it created anything (a slow start under load): nothing was
  // committed, so there is nothing to check yet.
  if (!existsSync(path)) return;
  // Checked on a plain connection first, before the store opens (and
  // possibly writes) anything.
  const raw = new DatabaseSync(path);
  try {
    assert.deepEqual(raw.prepare('PRAGMA integrity_check').all().map((r) => r.integrity_check), ['ok'], context);
    assert.deepEqual(raw.prepare('PRAGMA foreign_key_check').all(), [], context);
  } finally {
    raw.close();
  }
}

test('SIGKILL at random moments never leaves the state inconsistent or loses a committed change', { timeout: 120_000 }, async (t) => {
  const seed = Number(process.env.BERTH_CRASH_SEED ?? Date.now() % 2 ** 31);
  const random = seeded(seed);
  const dir = tempStateDir(t);
  /** The newest version each app was acknowledged as current, across all runs. */
  const acknowledged = new Map<string, number>();
  let committed = 0;

  for (let kill = 0; kill < KILLS; kill++) {
    // One kill in five lands while the store opens (the first one during the schema migration).
    const waitFor = kill === 0 || random() < 0.2 ? 'opening' : 'ready';
    const delayMs = kill === 0 ? Math.floor(random() * 5) : 5 + Math.floor(random() * 76);
    const context = `seed ${seed}, kill ${kill} (${waitFor} + ${delayMs} ms)`;
    const run = await runAndKill(dir, waitFor, delayMs);
    for (const line of run.lines) {
      const match = /^current (\w+) (\d+)$/.exec(line);
      if (match === null) continue;
      committed++;
      acknowledged.set(match[1]!, Math.max(acknowledged.get(match[1]!) ?? 0, Number(match[2])));
    }

    checkRaw(join(dir, 'berth.db'), context);
    const store = Store.open(dir);
    try {
      assert.deepEqual(store.checkIntegrity(), [], context);
      store.failInterrupted();
      for (const app of store.listApps()) {
        const releases = store.listReleases(app.name);
        const versions = releases.map((r) => r.version).sort((a, b) => a - b);
        assert.deepEqual(versions, versions.map((_, i) => i + 1), `${context}: ${app.name} versions are 1..n without gaps or duplicates`);
        assert.ok(releases.every((r) => r.status !== 'pending'), context);
        const current = store.currentRelease(app.name);
        if (current !== null) {
          assert.equal(current.status, 'succeeded', `${context}: ${app.name}'s current release succeeded`);
          assert.equal(current.version, app.currentVersion, context);
        }
        if (acknowledged.has(app.name)) {
          assert.ok(current !== null, `${context}: ${app.name} has a current release`);
          assert.ok(current.version >= acknowledged.get(app.name)!, `${context}: ${app.name} lost acknowledged v${acknowledged.get(app.name)}`);
        }
        // setConfig and createRelease commit together: the config is always the newest release's snapshot.
        if (releases.length > 0) assert.deepEqual(store.getConfig(app.name), store.getRelease(app.name, releases[0]!.version).config, context);
      }
    } finally {
      store.close();
    }
  }
  assert.ok(committed > 0, `seed ${seed}: the writer never got to commit anything`);
  t.diagnostic(`seed ${seed}: ${KILLS} kills, ${committed} acknowledged releases`);
});
