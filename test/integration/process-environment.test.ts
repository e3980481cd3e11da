// Heroku's environment for every kind of process berth starts for an app:
// apps whose settings branch on DYNO (Django's getting-started app sends
// its migrations to a throwaway SQLite file when DYNO is unset) must see a
// dyno name in the release command and in scheduled runs too, with the
// same HOME, PATH and release as the web process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, viaEdge } from '../helpers/daemon.ts';

/** Appends what this process was given to $HOME/env.jsonl: `node record.mjs KIND`. */
const RECORD = `
import { appendFileSync } from 'node:fs';
const pick = ['DYNO', 'BERTH_INSTANCE', 'PORT', 'HOME', 'BERTH_APP', 'BERTH_RELEASE', 'GREETING'];
export function record(kind) {
  appendFileSync(process.env.HOME + '/env.jsonl', JSON.stringify({ kind, ...Object.fromEntries(pick.map((k) => [k, process.env[k] ?? null])) }) + '\\n');
}
if (process.argv[2]) record(process.argv[2]);
`;

const WEB = `
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { record } from './record.mjs';
record('web');
createServer((req, res) => {
  let lines = [];
  try { lines = readFileSync(process.env.HOME + '/env.jsonl', 'utf8').trim().split('\\n').map((l) => JSON.parse(l)); } catch {}
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(lines));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

const WORKER = `
import { record } from './record.mjs';
record('worker');
setInterval(() => {}, 60_000);
process.on('SIGTERM', () => process.exit(0));
`;

test('DYNO names every process: web.1, worker.1, release.1, scheduler.JOB; each sees the same HOME, release and config, and only web gets PORT', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-dyno-'));
  const d = await startDaemon(join(root, 'state'));
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'app');
  await mkdir(dir);
  await writeFile(join(dir, 'record.mjs'), RECORD);
  await writeFile(join(dir, 'server.mjs'), WEB);
  await writeFile(join(dir, 'worker.mjs'), WORKER);
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\nworker: node worker.mjs\nrelease: node record.mjs release\n');
  await writeFile(join(dir, 'berth.toml'), '[cron.tick]\nschedule = "* * * * * *"\ncommand = "node record.mjs cron"\n');
  assert.equal((await apiCall(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  assert.equal((await apiCall(d, 'PATCH', '/apps/shop/config', { set: { GREETING: 'hello' } })).status, 200);
  const { lines, last } = await deployDir(d, 'shop', dir);
  assert.ok(last.release, lines.join('\n'));

  type Seen = Record<string, string | null> & { kind: string };
  const seen = await eventually('web, worker, release and a cron run recorded', async () => {
    const res = await viaEdge(d.edge, 'shop.localhost');
    if (res.status !== 200) return null;
    const records = JSON.parse(res.body) as Seen[];
    const kinds = new Set(records.map((r) => r.kind));
    return ['web', 'worker', 'release', 'cron'].every((kind) => kinds.has(kind)) ? records : null;
  }, 30_000);
  const first = (kind: string) => seen.find((r) => r.kind === kind)!;
  assert.equal(first('web').DYNO, 'web.1');
  assert.equal(first('worker').DYNO, 'worker.1');
  assert.equal(first('release').DYNO, 'release.1');
  assert.equal(first('cron').DYNO, 'scheduler.tick');
  for (const kind of ['web', 'worker', 'release', 'cron']) {
    const r = first(kind);
    assert.equal(r.BERTH_INSTANCE, r.DYNO, kind);
    assert.equal(r.BERTH_APP, 'shop', kind);
    assert.equal(r.BERTH_RELEASE, last.release.name, kind);
    assert.equal(r.GREETING, 'hello', kind);
    assert.equal(r.HOME, first('web').HOME, `${kind}: the same HOME`);
    if (kind === 'web') assert.match(r.PORT ?? '', /^\d+$/);
    else assert.equal(r.PORT, null, `${kind} gets no PORT`);
  }

  // berth config list's source: what the processes got, each with where it comes from; secrets hidden.
  const listed = await apiCall(d, 'GET', '/apps/shop/config');
  const vars = listed.json.vars as Array<{ key: string; source: string; value: string | null }>;
  assert.deepEqual(vars.find((v) => v.key === 'GREETING'), { key: 'GREETING', source: 'config', value: null, overriddenBy: null });
  assert.equal(vars.find((v) => v.key === 'BERTH_APP')?.value, 'shop');
  assert.equal(vars.find((v) => v.key === 'BERTH_RELEASE')?.value, last.release.name);
  assert.equal(vars.find((v) => v.key === 'HOME')?.value, first('web').HOME);
  assert.equal((await apiCall(d, 'GET', '/apps/shop/config?reveal=1')).json.vars.find((v: { key: string }) => v.key === 'GREETING').value, 'hello');
});
