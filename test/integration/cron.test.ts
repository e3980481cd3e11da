import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/platform/index.ts';
import { alive, BerthProcess, eventually } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { descendants, hostPidOf } from '../helpers/processes.ts';

const SERVER = `
import { createServer } from 'node:http';
const server = createServer((req, res) => res.end(process.env.BERTH_RELEASE));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** A cron command: one line per run, "SLOT RELEASE", appended to $OUT/slots.txt (outside every release). */
const TICK = `
import { appendFileSync } from 'node:fs';
appendFileSync(process.env.OUT + '/slots.txt', process.env.BERTH_CRON_SLOT + ' ' + process.env.BERTH_RELEASE + '\\n');
console.log('tick for ' + process.env.BERTH_CRON_JOB + ' at ' + process.env.BERTH_CRON_SLOT);
`;

/** A cron command that takes long: "start SLOT", then waits (the test kills the daemon meanwhile). */
const LONG = `
import { appendFileSync } from 'node:fs';
appendFileSync(process.env.OUT + '/long.txt', 'start ' + process.env.BERTH_CRON_SLOT + ' ' + process.pid + '\\n');
setTimeout(() => appendFileSync(process.env.OUT + '/long.txt', 'end ' + process.env.BERTH_CRON_SLOT + '\\n'), 60_000);
`;

const call = apiCall;

async function deploy(d: Daemon, app: string, dir: string): Promise<any> {
  const { lines, last } = await deployDir(d, app, dir);
  assert.equal(last.result, 'ok', lines.join('\n'));
  return last;
}

async function appDir(root: string, name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.mjs'), SERVER);
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\n');
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

/** A folder every app user may write to (the tests run as root, apps as their own users). */
/**
 * Where the cron commands write what the test reads: the app's own HOME, the
 * one folder outside its releases that it can write and the test can read
 * (a sandboxed app sees nothing else of the host's).
 */
function outDir(state: string, app = 'shop'): string {
  return join(state, 'apps', app, 'home');
}

async function lines(file: string): Promise<string[]> {
  if (!existsSync(file)) return [];
  return (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
}

test('a cron slot never runs twice, across a deploy and a daemon restart', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-cron-'));
  const state = join(root, 'state');
  const out = outDir(state);
  const slotsFile = join(out, 'slots.txt');
  let d = await startDaemon(state);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));

  assert.equal((await call(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  assert.equal((await call(d, 'PATCH', '/apps/shop/config', { set: { OUT: out } })).status, 200);
  const toml = (version: string) =>
    `# ${version}\n[cron.tick]\nschedule = "*/2 * * * * *"\ncommand = "node tick.mjs"\n\n[cron.slow]\nschedule = "*/3 * * * * *"\ncommand = "node -e \\"setTimeout(() => {}, 60000)\\""\ntimeout = "300ms"\n`;

  await deploy(d, 'shop', await appDir(root, 'v1', { 'tick.mjs': TICK, 'berth.toml': toml('v1') }));
  await eventually('two slots ran in v1', async () => (await lines(slotsFile)).filter((line) => line.endsWith(' v1')).length >= 2, 20_000);

  await deploy(d, 'shop', await appDir(root, 'v2', { 'tick.mjs': TICK, 'berth.toml': toml('v2') }));
  await eventually('two slots ran in v2', async () => (await lines(slotsFile)).filter((line) => line.endsWith(' v2')).length >= 2, 20_000);

  await t.test('the API lists the jobs with their next run and last runs; output goes to the app log as cron.JOB', async () => {
    const { status, json } = await call(d, 'GET', '/apps/shop/cron');
    assert.equal(status, 200);
    assert.deepEqual(json.jobs.map((job: any) => [job.name, job.schedule, job.timezone, job.timeoutMs]), [
      ['slow', '*/3 * * * * *', 'UTC', 300],
      ['tick', '*/2 * * * * *', 'UTC', null],
    ]);
    const tick = json.jobs.find((job: any) => job.name === 'tick');
    assert.ok(Date.parse(tick.nextRun) > Date.now() - 2_000, tick.nextRun);
    assert.ok(tick.lastRuns.length >= 2);
    assert.ok(tick.lastRuns.some((run: any) => run.status === 'succeeded' && run.exitCode === 0 && run.release === 'v2'), JSON.stringify(tick.lastRuns));
    const slow = await eventually('a slow run timed out', async () => {
      const runs = (await call(d, 'GET', '/apps/shop/cron')).json.jobs.find((job: any) => job.name === 'slow').lastRuns;
      return runs.find((run: any) => run.status === 'failed');
    });
    assert.equal(slow.exitCode, null, 'killed at its timeout: no exit code');
    const log = (await call(d, 'GET', '/apps/shop/logs?lines=500&process=cron')).json as string;
    assert.match(log, / cron\.tick \| tick for tick at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z/);
    assert.match(log, / cron\.slow \| the \S+ slot hit its 300 ms timeout; its process group was killed/);
  });

  await t.test('berth cron --app shows the jobs as a table, or the JSON answer', async () => {
    const env = { BERTH_SERVER: d.api, BERTH_TOKEN: d.token, XDG_CONFIG_HOME: join(root, 'config') };
    const table = new BerthProcess(['cron', '--app', 'shop'], { env });
    assert.equal((await table.exited).code, 0, table.output);
    const [header, ...rows] = table.output.trim().split('\n');
    assert.match(header!, /^JOB\s+SCHEDULE\s+NEXT RUN\s+LAST RUN\s+COMMAND$/);
    assert.match(rows.find((row) => row.startsWith('slow'))!, /^slow\s+\*\/3 \* \* \* \* \*\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+.*node -e/);
    assert.match(rows.find((row) => row.startsWith('tick'))!, /^tick\s+\*\/2 \* \* \* \* \*\s+\S+ \S+ UTC\s+(\S+ \S+ UTC succeeded|running since .*)\s+node tick\.mjs$/);
    const json = new BerthProcess(['cron', '--app', 'shop', '--json'], { env });
    assert.equal((await json.exited).code, 0, json.output);
    assert.deepEqual(JSON.parse(json.output).jobs.map((job: { name: string }) => job.name), ['slow', 'tick']);
    const missing = new BerthProcess(['cron', '--app', 'nope'], { env });
    assert.equal((await missing.exited).code, 1);
    assert.match(missing.output, /BERTH_E_APP_NOT_FOUND/);
  });

  const beforeRestart = (await lines(slotsFile)).length;
  await d.berth.stop('SIGTERM');
  d = await startDaemon(state);
  await eventually('two slots ran after the restart', async () => (await lines(slotsFile)).length >= beforeRestart + 2, 20_000);
  await d.berth.stop('SIGTERM');

  const ran = await lines(slotsFile);
  const slots = ran.map((line) => line.split(' ')[0]!);
  assert.deepEqual(slots.filter((slot, i) => slots.indexOf(slot) !== i), [], `no slot twice:\n${ran.join('\n')}`);
  for (const slot of slots) assert.match(slot, /^\d{4}-\d\d-\d\dT\d\d:\d\d:(\d\d)\.000Z$/);
  assert.ok(slots.every((slot) => Number(slot.slice(17, 19)) % 2 === 0), 'every slot is on the schedule');
  assert.deepEqual([...slots].sort(), slots, 'slots ran in order');
  assert.ok(ran.some((line) => line.endsWith(' v1')) && ran.some((line) => line.endsWith(' v2')));
  assert.ok(ran.slice(beforeRestart).every((line) => line.endsWith(' v2')), 'after the restart, the current release runs them');

  // The store agrees with the file: each run it recorded as succeeded left its line, and each line has its run.
  const store = Store.open(state);
  try {
    const runs = store.listCronRuns('shop', { job: 'tick', limit: 1_000 });
    const recorded = new Set(runs.map((run) => run.slot));
    for (const slot of slots) assert.ok(recorded.has(slot), `${slot} ran without a claim`);
    for (const run of runs) if (run.status === 'succeeded') assert.ok(slots.includes(run.slot), `${run.slot} succeeded without running`);
  } finally {
    store.close();
  }
});

test('a daemon SIGKILLed during a cron run: the run is marked interrupted and its slot does not run again', { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-cron-kill-'));
  const state = join(root, 'state');
  const out = outDir(state);
  const longFile = join(out, 'long.txt');
  const orphans = new Set<number>();
  t.after(() => {
    for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  let d = await startDaemon(state);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  assert.equal((await call(d, 'POST', '/apps', { name: 'shop' })).status, 201);
  assert.equal((await call(d, 'PATCH', '/apps/shop/config', { set: { OUT: out } })).status, 200);
  await deploy(d, 'shop', await appDir(root, 'v1', { 'long.mjs': LONG, 'berth.toml': '[cron.long]\nschedule = "*/2 * * * * *"\ncommand = "node long.mjs"\n' }));

  const [, killedSlot, nsPid] = (await eventually('a long run started', async () => (await lines(longFile)).map((line) => /^start (\S+) (\d+)$/.exec(line)).find(Boolean), 20_000))!;
  // The pid it printed is its own view (a sandbox has a pid namespace of its own).
  const pid = (await eventually('the long run is found on the host', () => hostPidOf(Number(nsPid), /long\.mjs/)))!;
  for (const child of descendants(d.berth.child.pid!)) orphans.add(child);
  d.berth.child.kill('SIGKILL');
  await d.berth.exited;
  assert.ok(alive(Number(pid)), 'the run outlived the daemon that started it');

  d = await startDaemon(state);
  await eventually('the orphaned run was stopped by the new daemon', () => !alive(Number(pid)), 10_000);
  const interrupted = await eventually('the run is reported interrupted', async () => {
    const job = (await call(d, 'GET', '/apps/shop/cron')).json.jobs.find((j: any) => j.name === 'long');
    return job?.lastRuns.find((run: any) => run.slot === killedSlot);
  });
  assert.equal(interrupted.status, 'interrupted');
  assert.equal(interrupted.exitCode, null);
  // Later slots run again (one at a time: the long runs overlap their next slots, which are skipped) …
  await eventually('a later slot started', async () => (await lines(longFile)).some((line) => line.startsWith('start ') && !line.startsWith(`start ${killedSlot} `)), 20_000);
  await d.berth.stop('SIGTERM');
  // … but the interrupted one never did.
  const started = (await lines(longFile)).filter((line) => line.startsWith('start ')).map((line) => line.split(' ')[1]);
  assert.equal(started.filter((slot) => slot === killedSlot).length, 1, started.join('\n'));
  assert.equal(started.length, new Set(started).size);
  assert.ok(!(await lines(longFile)).some((line) => line.startsWith('end ')), 'no run was left to finish');
});
