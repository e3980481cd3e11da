import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { egressArgs, isRunning, parseEgressCommand, parseStatTimes, type EgressProcess } from '../../src/sandbox/egress.ts';
import { EgressKeeper, type WatchedEgress } from '../../src/sandbox/egress-keeper.ts';

const PATH = '/var/lib/berth/run/netns/shop';

test('slirp4netns is told to keep the host\'s loopback out, sandbox itself, and leave from the outbound address', () => {
  assert.deepEqual(egressArgs(PATH, '192.0.2.2', 3), [
    '--configure',
    '--mtu=65520',
    '--disable-host-loopback',
    '--enable-sandbox',
    '--enable-seccomp',
    '--outbound-addr=192.0.2.2',
    '--ready-fd=3',
    '--netns-type=path',
    PATH,
    'tap0',
  ]);
});

test('a command line berth made is recognised, with its namespace and outbound address', () => {
  assert.deepEqual(parseEgressCommand(['/usr/bin/slirp4netns', ...egressArgs(PATH, '192.0.2.2', 3)]), { netnsPath: PATH, outboundAddress: '192.0.2.2' });
  assert.deepEqual(parseEgressCommand(['slirp4netns', '--configure', '--netns-type=path', '/a b/ns', 'tap0']), { netnsPath: '/a b/ns', outboundAddress: null });
});

test('other command lines are not berth\'s slirp', () => {
  for (const argv of [
    [],
    ['/usr/bin/slirp4netns', '--configure', '12345', 'tap0'], // rootless podman's: by pid
    ['/usr/bin/slirp4netns', '--netns-type=path', PATH], // no tap name
    ['/usr/bin/slirp4netns', '--netns-type=path', PATH, 'tap1'],
    ['/usr/bin/slirp4netns', '--netns-type=path', 'relative/ns', 'tap0'],
    ['/usr/bin/slirp4netns', '--netns-type=path', PATH, 'tap0', 'extra'],
    ['/usr/bin/sleep', '--netns-type=path', PATH, 'tap0'],
  ]) {
    assert.equal(parseEgressCommand(argv), null, argv.join(' '));
  }
});

test('the start time and state of /proc/PID/stat, whatever the command name holds', () => {
  const fields = ['S', '1', '2', '3', '0', '-1', '4194560', '100', '0', '0', '0', '5', '6', '0', '0', '20', '0', '1', '0', '933640', '1000'];
  assert.deepEqual(parseStatTimes(`4653 (slirp4netns) ${fields.join(' ')}`), { state: 'S', startTime: 933640 });
  assert.deepEqual(parseStatTimes(`4653 (a) (b c) ) ${fields.join(' ')}`), { state: 'S', startTime: 933640 });
  assert.equal(parseStatTimes('4653 slirp4netns S 1'), null);
  assert.equal(parseStatTimes('4653 (x) S 1 2'), null);
});

test('a process runs while its pid has its start time; another start time is another process', async () => {
  const stat = parseStatTimes(await readFile('/proc/self/stat', 'utf8'));
  assert.ok(stat);
  assert.equal(await isRunning({ pid: process.pid, startTime: stat.startTime }), true);
  assert.equal(await isRunning({ pid: process.pid, startTime: stat.startTime + 1 }), false);
  assert.equal(await isRunning({ pid: 2 ** 22 + 1, startTime: 0 }), false);
});

// The keeper, with fake processes: a dead one is a pid with a start time it never had.
async function ownStartTime(): Promise<number> {
  return parseStatTimes(await readFile('/proc/self/stat', 'utf8'))!.startTime;
}

function fakeChild(): ChildProcess {
  return new EventEmitter() as ChildProcess;
}

function waitFor(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

const policy = { initialDelayMs: 1, maxDelayMs: 8, factor: 2, stableAfterMs: 60_000, crashLoopAfter: 3 };

test('the keeper starts a slirp again when its child exits, and watches the new one', async (t) => {
  const alive: EgressProcess = { pid: process.pid, startTime: await ownStartTime(), netnsPath: PATH, outboundAddress: '192.0.2.2' };
  const restarts: string[] = [];
  const keeper = new EgressKeeper({
    policy,
    pollMs: 60_000,
    restart: async (app) => {
      restarts.push(app);
      return { process: { ...alive, outboundAddress: '192.0.2.3' }, child: fakeChild() };
    },
  });
  t.after(() => keeper.close());
  const child = fakeChild();
  keeper.watch('shop', alive, child);
  child.emit('exit', 1, null);
  await waitFor(() => restarts.length === 1 && keeper.watched('shop')?.outboundAddress === '192.0.2.3', 'the restart');
  assert.deepEqual(restarts, ['shop']);
});

test('the keeper finds a slirp it did not start dead by looking at /proc', async (t) => {
  const dead: EgressProcess = { pid: process.pid, startTime: (await ownStartTime()) + 1, netnsPath: PATH, outboundAddress: '192.0.2.2' };
  const alive: EgressProcess = { ...dead, startTime: dead.startTime - 1 };
  const lines: string[] = [];
  let restarts = 0;
  const keeper = new EgressKeeper({ policy, pollMs: 10, log: (l) => lines.push(l), restart: async () => (restarts++, { process: alive, child: null }) });
  t.after(() => keeper.close());
  keeper.watch('shop', dead, null);
  await waitFor(() => restarts === 1 && keeper.watched('shop') === alive, 'the restart');
  assert.match(lines[0]!, /^egress of app shop \(slirp4netns pid \d+\) ended; starting it again in 1 ms$/);
});

test('a slirp that cannot be started is tried again, waiting longer each time, and said to loop', async (t) => {
  const dead: EgressProcess = { pid: process.pid, startTime: (await ownStartTime()) + 1, netnsPath: PATH, outboundAddress: '192.0.2.2' };
  const lines: string[] = [];
  let tries = 0;
  const keeper = new EgressKeeper({
    policy,
    pollMs: 10,
    log: (l) => lines.push(l),
    restart: async () => {
      tries++;
      throw new Error('tap0 busy');
    },
  });
  t.after(() => keeper.close());
  keeper.watch('shop', dead, null);
  await waitFor(() => tries >= 4, 'four tries');
  keeper.close();
  const waits = lines.filter((l) => l.includes('starting it again')).map((l) => Number(/again in (\d+) ms/.exec(l)![1]));
  assert.deepEqual(waits.slice(0, 4), [1, 2, 4, 8]);
  assert.ok(lines.some((l) => l === 'egress of app shop could not be started again: tap0 busy'));
  assert.ok(lines.some((l) => /\(it ended 3 times in a row\)/.test(l)));
});

test('an app whose network is gone is no longer watched', async (t) => {
  const dead: EgressProcess = { pid: process.pid, startTime: (await ownStartTime()) + 1, netnsPath: PATH, outboundAddress: '192.0.2.2' };
  let asked = 0;
  const keeper = new EgressKeeper({ policy, pollMs: 10, restart: async () => (asked++, null) });
  t.after(() => keeper.close());
  keeper.watch('shop', dead, null);
  await waitFor(() => asked === 1 && keeper.watched('shop') === null, 'the keeper to let go');
});

test('unwatch and close stop every restart; the processes are left alone', async () => {
  const dead: EgressProcess = { pid: process.pid, startTime: (await ownStartTime()) + 1, netnsPath: PATH, outboundAddress: '192.0.2.2' };
  let restarts = 0;
  const restart = async (): Promise<WatchedEgress> => (restarts++, { process: dead, child: null });
  const slow = { ...policy, initialDelayMs: 50, maxDelayMs: 50 };
  const keeper = new EgressKeeper({ policy: slow, pollMs: 5, restart });
  const child = fakeChild();
  keeper.watch('shop', dead, child);
  child.emit('exit', 0, null);
  keeper.unwatch('shop');
  keeper.watch('blog', dead, null);
  await new Promise((resolve) => setTimeout(resolve, 20));
  keeper.close();
  keeper.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(restarts, 0);
  assert.equal(keeper.watched('blog'), null);
  keeper.watch('blog', dead, null); // after close: ignored
  assert.equal(keeper.watched('blog'), null);
});
