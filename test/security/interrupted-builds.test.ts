import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPidOf } from '../helpers/processes.ts';
import { alive, eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, deployRequest, startDaemon, type Daemon } from '../helpers/daemon.ts';

// A build is work the daemon started as the app's user. If the daemon is
// killed while it runs, the build must not run on unsupervised (it holds
// CPU, memory and the app's folder), the next daemon must say what
// happened to it, and builds that never became a release must not pile
// up in the app's folder for ever.

/** Starts a deploy and resolves with the pid the build printed, leaving the upload's answer streaming. */
async function startDeploy(d: Daemon, app: string, dir: string): Promise<{ pid: number; lines: string[] }> {
  const res = await deployRequest(d, app, dir);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const match = /build pid (\d+)/.exec(text);
    if (match) {
      void reader.read().catch(() => {}); // the rest is cut off with the daemon
      return { pid: Number(match[1]), lines: text.split('\n') };
    }
  }
  throw new Error(`the build never started:\n${text}`);
}

function query(state: string, sql: string): Array<Record<string, unknown>> {
  const db = new DatabaseSync(join(state, 'berth.db'), { readOnly: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

test('a build running when the daemon is SIGKILLed is killed by the next daemon, marked interrupted, audited, and pruned in time', { timeout: 240_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-interrupted-'));
  const state = join(root, 'state');
  const first = await startDaemon(state);
  t.after(() => first.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const source = join(root, 'source');
  await mkdir(source);
  await writeFile(join(source, 'server.mjs'), "import { createServer } from 'node:http'; createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n");
  await writeFile(join(source, 'build.sh'), 'echo "build pid $$"\nexec sleep 300\n');
  await writeFile(join(source, 'Procfile'), 'web: node server.mjs\nbuild: sh build.sh\n');
  assert.equal((await apiCall(first, 'POST', '/apps', { name: 'slow' })).status, 201);

  const { pid: printed } = await startDeploy(first, 'slow', source);
  // What the build printed is its own view: in a sandbox it has a pid namespace of its own.
  const pid = (await eventually('the build is found on the host', () => hostPidOf(printed, /sleep 300/)))!;
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  });
  first.berth.child.kill('SIGKILL');
  await first.berth.exited;
  assert.ok(alive(pid), 'the build outlived its daemon');

  const second = await startDaemon(state);
  t.after(() => second.berth.kill());
  await eventually('the next daemon stops the orphaned build', () => !alive(pid), 10_000);
  await second.berth.waitFor(/slow: build \d+ \(source [0-9a-f]{7}\) was interrupted by a stop; marked interrupted/);
  const [build] = query(state, `SELECT id, status, dir FROM builds`);
  assert.equal(build?.status, 'interrupted');
  const audit = query(state, `SELECT actor, action, target, result, detail_json FROM audit WHERE action = 'builds.interrupted'`);
  assert.deepEqual(audit.map((row) => [row.actor, row.target, row.result, JSON.parse(String(row.detail_json)).build]), [['system', 'slow', 'error', build!.id]]);
  assert.ok(existsSync(String(build!.dir)), 'the newest few builds that never became a release are kept a while');

  // Three failing builds later it is the oldest of four that never became a release: it goes.
  await writeFile(join(source, 'build.sh'), 'echo "build pid $$"\nexit 3\n');
  for (let i = 0; i < 3; i++) assert.equal((await deployDir(second, 'slow', source)).last.error?.code, 'BERTH_E_INSTALL');
  assert.deepEqual(query(state, `SELECT status FROM builds ORDER BY id`).map((row) => row.status), ['pruned', 'failed', 'failed', 'failed']);
  assert.ok(!existsSync(String(build!.dir)), 'its folder is removed');
});
