import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printLogs } from '../../../src/cli/remote/logs.ts';
import { BerthError } from '../../../src/errors.ts';
import { GOOD_TOKEN, startFakeDaemon, type FakeDaemon } from './fake-daemon.ts';
import { berth, testEnv } from './run-berth.ts';

async function setup(t: { after(fn: () => unknown): void }): Promise<{ daemon: FakeDaemon; env: Record<string, string> }> {
  const daemon = await startFakeDaemon(t);
  daemon.apps.set('shop', { name: 'shop', createdAt: '2026-01-02T03:04:05.678Z', releases: [], config: {}, formation: {}, domains: [] });
  return { daemon, env: await testEnv(t, { url: daemon.url, token: GOOD_TOKEN }) };
}

/** An interrupt the test presses, in place of Ctrl-C; it counts who listens. */
function fakeInterrupt() {
  const listeners = new Set<() => void>();
  return {
    listeners,
    press: () => [...listeners].forEach((stop) => stop()),
    onInterrupt: (stop: () => void) => {
      listeners.add(stop);
      return () => listeners.delete(stop);
    },
  };
}

test('logs prints the recent lines and ends; --lines and --process reach the server', async (t) => {
  const { daemon, env } = await setup(t);
  const all = await berth(['logs', '--app', 'shop'], { env });
  assert.equal(all.code, 0, all.err);
  assert.equal(all.out, '2026-01-02T03:04:05.000Z web.1 | listening\n2026-01-02T03:04:06.000Z web.1 | GET / 200\n2026-01-02T03:04:07.000Z worker.1 | tick\n');
  assert.equal(daemon.requests.at(-1)!.url, '/apps/shop/logs');
  const some = await berth(['logs', '--app', 'shop', '-n', '1', '--process', 'web'], { env });
  assert.equal(some.out, '2026-01-02T03:04:06.000Z web.1 | GET / 200\n');
  assert.equal(daemon.requests.at(-1)!.url, '/apps/shop/logs?lines=1&process=web');
  const bad = await berth(['logs', '--app', 'shop', '--lines', 'all'], { env });
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^berth: "all" is not a number of lines \[BERTH_E_USAGE\]/);
});

test('logs -f streams new lines as they come, and Ctrl-C ends it cleanly with exit 0', async (t) => {
  const { daemon, env } = await setup(t);
  let closed = false;
  let emit!: (line: string) => void;
  daemon.logs = async ({ query, res }) => {
    assert.equal(query.get('follow'), '1');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('old line\n');
    emit = (line) => res.write(`${line}\n`);
    await new Promise<void>((resolve) => res.once('close', () => resolve()));
    closed = true;
  };
  const interrupt = fakeInterrupt();
  const seen: string[] = [];
  const run = await berth(['logs', '-f', '--app', 'shop'], { env, onInterrupt: interrupt.onInterrupt }, (text) => {
    seen.push(text);
    // Each line is printed as it arrives: the next one is sent only once this one is out.
    if (text === 'old line\n') emit('new line 1');
    if (text === 'new line 1\n') emit('new line 2');
    if (text === 'new line 2\n') interrupt.press();
  });
  assert.equal(run.code, 0, run.err);
  assert.equal(run.out, 'old line\nnew line 1\nnew line 2\n');
  assert.equal(run.err, '');
  assert.equal(interrupt.listeners.size, 0);
  // The server sees the stream closed, so it stops following.
  for (let i = 0; i < 100 && !closed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(closed, true);
});

test('Ctrl-C before the log stream even starts also ends cleanly', async (t) => {
  const { daemon, env } = await setup(t);
  let started!: () => void;
  const requested = new Promise<void>((resolve) => (started = resolve));
  daemon.logs = async ({ res }) => {
    started();
    // Never answers until the client goes away.
    await new Promise<void>((resolve) => res.once('close', () => resolve()));
  };
  const interrupt = fakeInterrupt();
  const running = berth(['logs', '-f', '--app', 'shop'], { env, onInterrupt: interrupt.onInterrupt });
  await requested;
  interrupt.press();
  const run = await running;
  assert.equal(run.code, 0, run.err);
  assert.equal(run.out, '');
});

test('a followed stream the server ends, or a dropped one, is BERTH_E_CONNECTION_LOST, exit 1', async (t) => {
  const { daemon, env } = await setup(t);
  daemon.logs = async ({ res }) => {
    res.writeHead(200);
    res.end('a line\n');
  };
  const ended = await berth(['logs', '-f', '--app', 'shop'], { env, onInterrupt: fakeInterrupt().onInterrupt });
  assert.equal(ended.code, 1);
  assert.equal(ended.out, 'a line\n');
  assert.match(ended.err, /^berth: the berth server at http:\/\/127\.0\.0\.1:\d+ ended the log stream \[BERTH_E_CONNECTION_LOST\]\nhint: .*berth logs -f --app shop again/);

  daemon.logs = async ({ res }) => {
    res.writeHead(200);
    res.write('a line\n');
    setTimeout(() => res.destroy(), 10);
  };
  const dropped = await berth(['logs', '--app', 'shop'], { env });
  assert.equal(dropped.code, 1);
  assert.equal(dropped.out, 'a line\n');
  assert.match(dropped.err, /\[BERTH_E_CONNECTION_LOST\]/);
});

test('logs of an unknown app is the API error', async (t) => {
  const { env } = await setup(t);
  const run = await berth(['logs', '--app', 'nope'], { env });
  assert.equal(run.err, 'berth: no app is named nope [BERTH_E_APP_NOT_FOUND]\nhint: Check `berth apps list`.\n');
});

test('a follow that fetch gives up on after five quiet minutes resumes, skipping the line already printed', async () => {
  const idle = new BerthError('BERTH_E_CONNECTION_LOST', 'closed', { cause: Object.assign(new TypeError('terminated'), { cause: { code: 'UND_ERR_BODY_TIMEOUT' } }) });
  const answers: Array<Array<string | Error>> = [
    ['one', 'two', idle],
    ['two', 'three', idle],
    ['four', 'five'],
  ];
  const paths: string[] = [];
  const client = {
    server: 'http://test',
    async lines(_method: string, path: string) {
      paths.push(path);
      const items = answers.shift()!;
      return (async function* () {
        for (const item of items) {
          if (item instanceof Error) throw item;
          yield item;
        }
      })();
    },
  };
  const printed: string[] = [];
  await assert.rejects(
    printLogs(client, { app: 'shop', lines: 20, process: 'web', follow: true }, (line) => printed.push(line), new AbortController().signal),
    /ended the log stream/,
  );
  assert.deepEqual(printed, ['one', 'two', 'three', 'four', 'five']);
  assert.deepEqual(paths, ['/apps/shop/logs?lines=20&process=web&follow=1', '/apps/shop/logs?lines=1&process=web&follow=1', '/apps/shop/logs?lines=1&process=web&follow=1']);

  // Not following, or another failure: no resume.
  const other = new BerthError('BERTH_E_CONNECTION_LOST', 'reset', { cause: { code: 'ECONNRESET' } });
  answers.push(['x', other]);
  await assert.rejects(printLogs(client, { app: 'shop', lines: undefined, process: undefined, follow: true }, () => {}, new AbortController().signal), other);
});
