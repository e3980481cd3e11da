import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { OneOffRuns, MAX_RUNS_PER_APP, type RunContext, type RunRequest } from '../../src/platform/one-off-runs.ts';
import { plainLauncher } from '../../src/runner/index.ts';
import { isBerthError } from '../../src/errors.ts';
import { alive, eventually } from '../helpers/berth-process.ts';
import { openTempStore } from './store-helpers.ts';

// OneOffRuns over a real store and real processes (plainly, as berth's own
// user: the sandbox's part is the integration test's).

function setup(t: TestContext, graceMs = 2_000) {
  const { store } = openTempStore(t);
  const logged: Array<[string, string, string]> = [];
  const runs = new OneOffRuns({ store, appLog: (app, source, line) => logged.push([app, source, line]), graceMs });
  t.after(() => runs.stopAll());
  const context: RunContext = { release: 'v3', cwd: tmpdir(), user: null, launcher: plainLauncher, env: (name) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', DYNO: name }) };
  const ask = (argv: string[], more: Partial<RunRequest> = {}): RunRequest => ({ argv, memoryBytes: null, terminal: null, detach: false, actor: 'admin', ...more });
  return { store, logged, runs, context, ask };
}

function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => (text += chunk));
  return new Promise((resolve) => (stream === null ? resolve('') : stream.once('end', () => resolve(text))));
}

test('an attached run: its streams, its exit, run.N numbering that goes on from the audit, and both ends audited with the argv', async (t) => {
  const { store, logged, runs, context, ask } = setup(t);
  const first = await runs.start('shop', context, ask(['sh', '-c', 'read line; echo "out:$line:$DYNO"; echo err >&2; exit 3']));
  assert.equal(first.name, 'run.1');
  const out = collect(first.stdout);
  const err = collect(first.stderr);
  first.stdin!.end('hello\n');
  assert.deepEqual(await first.done, { code: 3, signal: null, outOfMemory: false });
  assert.equal(await out, 'out:hello:run.1\n');
  assert.equal(await err, 'err\n');
  assert.equal((await (await runs.start('shop', context, ask(['true']))).done).code, 0);
  assert.equal((await runs.start('other', context, ask(['true']))).name, 'run.1', 'numbers are per app');

  // A new OneOffRuns (a restarted daemon) goes on from the audit.
  const again = new OneOffRuns({ store, appLog: () => {}, graceMs: 1000 });
  const third = await again.start('shop', context, ask(['true']));
  assert.equal(third.name, 'run.3');
  await third.done;

  const audit = store.listAudit(20).filter((row) => row.target === 'shop').reverse();
  assert.deepEqual(audit.slice(0, 2).map((row) => [row.actor, row.action, row.result, row.detail.dyno]), [['admin', 'run', 'ok', 'run.1'], ['admin', 'run.exit', 'ok', 'run.1']]);
  assert.deepEqual(audit[0]!.detail.argv, ['sh', '-c', 'read line; echo "out:$line:$DYNO"; echo err >&2; exit 3']);
  assert.equal(audit[1]!.detail.exitCode, 3);
  // The app's log says who started what (the program's name, never its arguments) and how it ended.
  assert.deepEqual(logged.filter(([app, source]) => app === 'shop' && source === 'run.1').map(([, , line]) => line), ['starting sh in v3 (by admin)', 'exited with code 3']);
});

test('a config value in the argv is redacted in the audit', async (t) => {
  const { store, runs, context, ask } = setup(t);
  store.createApp('shop');
  store.setConfig('shop', { SECRET_KEY: 'hunter2-hunter2' });
  await (await runs.start('shop', context, ask(['echo', 'hunter2-hunter2']))).done;
  const row = store.listAudit(5).find((r) => r.action === 'run')!;
  assert.deepEqual(row.detail.argv, ['echo', '[redacted]']);
});

test('a detached run: no streams for the caller, its output in the app log under run.N, listed while it runs, stopped by SIGTERM', async (t) => {
  const { logged, runs, context, ask } = setup(t);
  const run = await runs.start('shop', context, ask(['sh', '-c', 'echo "working as $DYNO"; exec sleep 60'], { detach: true }));
  assert.equal(run.stdin, null);
  assert.equal(run.stdout, null);
  await eventually('the output is in the log', () => logged.some(([, source, line]) => source === 'run.1' && line === 'working as run.1'));
  const listed = runs.list('shop');
  assert.deepEqual(listed.map((r) => [r.name, r.detached, r.release, r.command.join(' ')]), [['run.1', true, 'v3', 'sh -c echo "working as $DYNO"; exec sleep 60']]);
  const outcome = await runs.stop('shop', 'run.1', 'admin');
  assert.equal(outcome.signal, 'SIGTERM');
  assert.deepEqual(runs.list('shop'), []);
  await assert.rejects(runs.stop('shop', 'run.1', 'admin'), (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_RUN_NOT_FOUND' && err.status === 404);
});

test('an abandoned run gets SIGHUP, then SIGKILL once the grace period is over; nothing it started is left', async (t) => {
  const { runs, context, ask } = setup(t, 500);
  const hup = await runs.start('shop', context, ask(['sleep', '60']));
  hup.abandon();
  assert.equal((await hup.done).signal, 'SIGHUP');
  const stubborn = await runs.start('shop', context, ask(['sh', '-c', 'trap "" HUP TERM; sleep 60 & echo $!; wait']));
  let child = '';
  stubborn.stdout!.setEncoding('utf8').on('data', (chunk: string) => (child += chunk));
  await eventually('the child is started', () => /^\d+\n/.test(child));
  stubborn.abandon();
  assert.equal((await stubborn.done).signal, 'SIGKILL');
  await eventually('the process group went with it (reaped)', () => !alive(Number(child.trim())));
});

test('at most MAX_RUNS_PER_APP runs of an app at once; endApp ends them all', async (t) => {
  const { runs, context, ask } = setup(t, 1000);
  const started = [];
  for (let i = 0; i < MAX_RUNS_PER_APP; i++) started.push(await runs.start('shop', context, ask(['sleep', '60'], { detach: true })));
  await assert.rejects(runs.start('shop', context, ask(['true'])), (err: unknown) => isBerthError(err) && err.code === 'BERTH_E_RUN_LIMIT' && err.status === 429);
  assert.equal((await (await runs.start('other', context, ask(['true']))).done).code, 0, 'another app is not held back');
  await runs.endApp('shop');
  for (const run of started) assert.equal((await run.done).signal, 'SIGTERM');
  assert.deepEqual(runs.list('shop'), []);
});

test('a command that cannot start is audited as such and says why in the log', async (t) => {
  const { store, logged, runs, context, ask } = setup(t);
  const run = await runs.start('shop', context, ask(['/nonexistent/program']));
  assert.equal((await run.done).code, 127);
  assert.match(logged.at(-1)![2], /could not start \/nonexistent\/program: .*ENOENT/);
  assert.equal(store.listAudit(1)[0]!.detail.exitCode, 127);
});
