// The apps' networks on the machine's own network namespace, as the daemon
// makes them (as root): what ensure() makes, that it is idempotent and
// keeps what an earlier daemon made, that slirp is kept running, and that
// remove() leaves nothing. Every name is this test's own (a link prefix, a
// table, a service address, slots) so nothing collides with a real berth
// or another test; the attacks are in test/security/sandbox-network.test.ts.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNetTools, openSandboxNetworks, removeHostNetworking, type OpenedSandboxNetworks, type SandboxNetworksOptions } from '../../src/sandbox/index.ts';
import { findEgress, startEgress } from '../../src/sandbox/egress.ts';
import { NetTools } from '../../src/sandbox/net-tools.ts';
import { parseInterfaces, type Interface } from '../../src/sandbox/ip-json.ts';
import { isMounted, mountsUnder, NetnsFolder, probe, sh, inNetns } from '../helpers/netns.ts';
import { eventually } from '../helpers/berth-process.ts';

const APP_UID = 64_201;
const tag = (process.pid % 46_656).toString(36);

function options(dir: string): SandboxNetworksOptions {
  return {
    dir,
    linkPrefix: `bt${tag}-`,
    table: `berth_t${process.pid}`,
    serviceAddress: `169.254.${204 + (process.pid % 40)}.${1 + (process.pid % 250)}`,
    pollMs: 50,
    restartPolicy: { initialDelayMs: 10, maxDelayMs: 200, factor: 2, stableAfterMs: 30_000, crashLoopAfter: 5 },
  };
}

/** A slot of this test's own (the last 300 of the range, by pid). */
function slot(i: number): number {
  return 16_000 + ((process.pid * 7) % 300) + i;
}

interface Setup {
  readonly folder: NetnsFolder;
  readonly options: SandboxNetworksOptions;
  readonly open: () => Promise<OpenedSandboxNetworks>;
}

/** A namespace folder and a way to open the networks on it; everything taken down after the test, even when it failed. */
async function setup(t: TestContext): Promise<Setup> {
  const folder = await NetnsFolder.make('net');
  const opts = options(folder.path('netns'));
  const opened: OpenedSandboxNetworks[] = [];
  t.after(async () => {
    for (const nets of opened) await nets.close();
    await folder.cleanup();
    for (const link of (await hostInterfaces()).filter((i) => i.ifname.startsWith(opts.linkPrefix!))) await sh(['ip', 'link', 'del', 'dev', link.ifname]).catch(() => {});
    await removeHostNetworking(opts);
  });
  return {
    folder,
    options: opts,
    open: async () => {
      const nets = await openSandboxNetworks(opts);
      opened.push(nets);
      return nets;
    },
  };
}

async function hostInterfaces(): Promise<Interface[]> {
  return parseInterfaces(await sh(['ip', '-j', '-d', 'address', 'show']));
}

async function insideInterfaces(netns: string): Promise<Interface[]> {
  return parseInterfaces(await sh(inNetns(netns, null, ['ip', '-j', '-d', 'address', 'show'])));
}

/** A connection from this process (root, the host: where the edge connects from), after its greeting. */
async function openConnection(host: string, port: number): Promise<{ socket: Socket; greeting: string; echo: (line: string) => Promise<string> }> {
  const socket = connect({ host, port });
  const lines: string[] = [];
  let buffered = '';
  const waiters: Array<(line: string) => void> = [];
  socket.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const next = () => new Promise<string>((resolve, reject) => {
    const line = lines.shift();
    if (line !== undefined) return resolve(line);
    waiters.push(resolve);
    socket.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const greeting = await next();
  return { socket, greeting, echo: async (line) => (socket.write(`${line}\n`), next()) };
}

/** A listener in this process, on `host`; its port. */
async function hostListener(t: TestContext, host: string, name: string): Promise<number> {
  const server: Server = createServer((s) => s.on('error', () => {}).end(`hello from ${name}\n`));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

test('ensure() makes a namespace, a link and a way out; the host reaches the app at its address whether it binds every address or loopback', async (t) => {
  const { folder, options: opts, open } = await setup(t);
  const nets = await open();
  const shop = await nets.ensure('shop', slot(0));
  assert.equal(shop.netnsPath, join(opts.dir, 'shop'));
  assert.equal(shop.nameserver, '10.0.2.3');
  assert.ok(isMounted(shop.netnsPath));

  const link = (await hostInterfaces()).find((i) => i.ifname === `bt${tag}-shop`);
  assert.ok(link, 'the host end is named after the app');
  assert.equal(link.kind, 'veth');
  assert.equal(link.alias, `berth ${shop.netnsPath}`);
  assert.deepEqual(link.ipv4, [`${shop.hostAddress}/31`]);
  assert.deepEqual(link.ipv6, [], 'no IPv6 on the host end: no fe80:: path to the app');
  const inside = await insideInterfaces(shop.netnsPath);
  assert.deepEqual(inside.map((i) => i.ifname).sort(), ['eth0', 'lo', 'tap0']);
  const eth0 = inside.find((i) => i.ifname === 'eth0')!;
  assert.deepEqual(eth0.ipv4, [`${shop.address}/31`]);
  assert.deepEqual(eth0.ipv6, []);
  assert.deepEqual(inside.find((i) => i.ifname === 'tap0')!.ipv4, ['10.0.2.100/24']);
  assert.deepEqual(inside.find((i) => i.ifname === 'tap0')!.ipv6, []);
  assert.match(await sh(inNetns(shop.netnsPath, null, ['nft', 'list', 'tables'])), /^table inet berth$/m);
  const [slirp, ...more] = (await findEgress(opts.dir)).filter((p) => p.netnsPath === shop.netnsPath);
  assert.ok(slirp, 'slirp4netns runs for the namespace');
  assert.deepEqual(more, []);
  assert.equal(nets.egressOf('shop')?.pid, slirp.pid);

  await folder.programs.listen(shop.netnsPath, APP_UID, '0.0.0.0', 8080, 'any-address');
  await folder.programs.listen(shop.netnsPath, APP_UID, '127.0.0.1', 8081, 'loopback');
  // The edge's connections are translated to the app's loopback: an app
  // bound to its link's own address (which nothing tells it) is not served.
  await folder.programs.listen(shop.netnsPath, APP_UID, shop.address, 8082, 'its-address');
  const seen = await probe(null, null, [`${shop.address}:8080`, `${shop.address}:8081`, `${shop.address}:8082`]);
  assert.deepEqual(seen, { [`${shop.address}:8080`]: 'connected hello from any-address', [`${shop.address}:8081`]: 'connected hello from loopback', [`${shop.address}:8082`]: 'refused' });
});

test('an app reaches the host\'s public address and the service address through slirp, never the host\'s loopback', async (t) => {
  const { open } = await setup(t);
  const nets = await open();
  const shop = await nets.ensure('shop', slot(0));
  const outbound = nets.egressOf('shop')!.outboundAddress!;
  const publicPort = await hostListener(t, outbound, 'public');
  const servicePort = await hostListener(t, nets.serviceAddress, 'service');
  const loopbackPort = await hostListener(t, '127.0.0.1', 'loopback');
  assert.deepEqual(await probe(shop.netnsPath, APP_UID, [`${outbound}:${publicPort}`, `${nets.serviceAddress}:${servicePort}`, `10.0.2.2:${loopbackPort}`]), {
    [`${outbound}:${publicPort}`]: 'connected hello from public',
    [`${nets.serviceAddress}:${servicePort}`]: 'connected hello from service',
    [`10.0.2.2:${loopbackPort}`]: 'refused',
  });
});

test('ensure() again changes nothing a running app uses: same link, same slirp, an open connection goes on', async (t) => {
  const { folder, open } = await setup(t);
  const nets = await open();
  const first = await nets.ensure('shop', slot(0));
  await folder.programs.listen(first.netnsPath, APP_UID, '0.0.0.0', 8080, 'shop');
  const before = (await hostInterfaces()).find((i) => i.ifname === `bt${tag}-shop`)!;
  const slirp = nets.egressOf('shop')!;
  const conn = await openConnection(first.address, 8080);
  t.after(() => conn.socket.destroy());
  assert.equal(conn.greeting, 'hello from shop');

  const again = await Promise.all([nets.ensure('shop', slot(0)), nets.ensure('shop', slot(0))]);
  assert.deepEqual(again, [first, first]);
  const after = (await hostInterfaces()).find((i) => i.ifname === `bt${tag}-shop`)!;
  assert.equal(after.ifindex, before.ifindex);
  assert.deepEqual(nets.egressOf('shop'), slirp);
  assert.equal(await conn.echo('still there?'), 'still there?');
});

test('a restarted daemon finds the namespace, the link and slirp and keeps them; connections go on', async (t) => {
  const { folder, open } = await setup(t);
  const first = await open();
  const shop = await first.ensure('shop', slot(0));
  await folder.programs.listen(shop.netnsPath, APP_UID, '0.0.0.0', 8080, 'shop');
  const link = (await hostInterfaces()).find((i) => i.ifname === `bt${tag}-shop`)!;
  const slirp = first.egressOf('shop')!;
  const conn = await openConnection(shop.address, 8080);
  t.after(() => conn.socket.destroy());
  await first.close(); // the daemon stops: networks and slirp stay

  const second = await open();
  assert.deepEqual(await second.ensure('shop', slot(0)), shop);
  assert.equal((await hostInterfaces()).find((i) => i.ifname === `bt${tag}-shop`)!.ifindex, link.ifindex);
  assert.deepEqual(second.egressOf('shop'), slirp, 'the same slirp4netns process, now watched by the new daemon');
  assert.equal(await conn.echo('after the restart'), 'after the restart');
  assert.deepEqual(await probe(null, null, [`${shop.address}:8080`]), { [`${shop.address}:8080`]: 'connected hello from shop' });
});

test('slirp that dies is started again, and the app\'s way out works again', async (t) => {
  const { open } = await setup(t);
  const nets = await open();
  const shop = await nets.ensure('shop', slot(0));
  const outbound = nets.egressOf('shop')!.outboundAddress!;
  const port = await hostListener(t, outbound, 'public');
  for (const round of [1, 2]) {
    const old = nets.egressOf('shop')!;
    process.kill(old.pid, 'SIGKILL');
    const next = await eventually(`slirp4netns runs again (round ${round})`, async () => {
      const now = nets.egressOf('shop');
      return now !== null && now.pid !== old.pid && (await findEgress(null)).some((p) => p.pid === now.pid) ? now : null;
    });
    assert.equal(next.netnsPath, shop.netnsPath);
    assert.deepEqual(await probe(shop.netnsPath, APP_UID, [`${outbound}:${port}`]), { [`${outbound}:${port}`]: 'connected hello from public' });
  }
  // A restarted daemon that finds slirp dead starts it too (ensure).
  const last = nets.egressOf('shop')!;
  await nets.close();
  process.kill(last.pid, 'SIGKILL');
  const again = await open();
  await eventually('the dead slirp is gone', async () => !(await findEgress(null)).some((p) => p.netnsPath === shop.netnsPath));
  await again.ensure('shop', slot(0));
  assert.deepEqual(await probe(shop.netnsPath, APP_UID, [`${outbound}:${port}`]), { [`${outbound}:${port}`]: 'connected hello from public' });
});

test('remove() leaves nothing: no link, no mount, no file, no slirp, no rule; again is fine, and so is an app that never had a network', async (t) => {
  const { folder, options: opts, open } = await setup(t);
  const nets = await open();
  const shop = await nets.ensure('shop', slot(0));
  const blog = await nets.ensure('a-very-long-app-name-for-a-blog', slot(1));
  await folder.programs.listen(blog.netnsPath, APP_UID, '0.0.0.0', 8080, 'blog');

  await nets.remove('shop');
  await nets.remove('shop');
  await nets.remove('never-made');
  assert.ok(!(await hostInterfaces()).some((i) => i.ifname === `bt${tag}-shop`));
  assert.ok(!isMounted(shop.netnsPath));
  assert.ok(!(await findEgress(opts.dir)).some((p) => p.netnsPath === shop.netnsPath));
  assert.deepEqual((await readdir(opts.dir)).sort(), ['a-very-long-app-name-for-a-blog', 'a-very-long-app-name-for-a-blog.egress.log']);
  // The other app is untouched.
  assert.deepEqual(await probe(null, null, [`${blog.address}:8080`]), { [`${blog.address}:8080`]: 'connected hello from blog' });

  await folder.programs.cleanup(); // the app's instances stop before its network goes
  await nets.remove('a-very-long-app-name-for-a-blog');
  await nets.close();
  assert.ok(!(await hostInterfaces()).some((i) => i.ifname.startsWith(opts.linkPrefix!)));
  assert.deepEqual(mountsUnder(opts.dir), []);
  assert.deepEqual(await readdir(opts.dir), []);
  assert.deepEqual(await findEgress(opts.dir), []);

  await removeHostNetworking(opts);
  assert.doesNotMatch(await sh(['nft', 'list', 'tables']), new RegExp(`table inet ${opts.table}$`, 'm'));
  assert.ok(!(await hostInterfaces()).find((i) => i.ifname === 'lo')!.ipv4.includes(`${opts.serviceAddress}/32`));
});

test('a namespace lost while the app still runs in it (its file unbound) is made anew, and its stale link goes', async (t) => {
  const { folder, open } = await setup(t);
  const nets = await open();
  const shop = await nets.ensure('shop', slot(0));
  await folder.programs.listen(shop.netnsPath, APP_UID, '0.0.0.0', 8080, 'old');
  const stale = (await hostInterfaces()).find((i) => i.ifname === `bt${tag}-shop`)!;
  const slirp = nets.egressOf('shop')!;
  await nets.close();
  process.kill(slirp.pid, 'SIGKILL');
  await sh(['umount', shop.netnsPath]); // what a reboot or another mount namespace leaves: a plain file

  const again = await open();
  assert.deepEqual(await again.ensure('shop', slot(0)), shop);
  const link = (await hostInterfaces()).find((i) => i.ifname === `bt${tag}-shop`)!;
  assert.notEqual(link.ifindex, stale.ifindex);
  await folder.programs.listen(shop.netnsPath, APP_UID, '0.0.0.0', 8080, 'new');
  assert.deepEqual(await probe(null, null, [`${shop.address}:8080`]), { [`${shop.address}:8080`]: 'connected hello from new' });
});

test('a link name or address that is not this app\'s is never taken over: ensure() refuses and touches nothing', async (t) => {
  const { options: opts, open } = await setup(t);
  const nets = await open();
  // An interface of someone else's, named as the link would be.
  await sh(['ip', 'link', 'add', `bt${tag}-shop`, 'type', 'veth', 'peer', 'name', `bt${tag}-peer`]);
  await assert.rejects(nets.ensure('shop', slot(0)), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'BERTH_E_SANDBOX_NETWORK');
    assert.match(err.message, new RegExp(`bt${tag}-shop exists and is not the link of app shop's network \\(it has no alias\\)`));
    return true;
  });
  assert.ok((await hostInterfaces()).some((i) => i.ifname === `bt${tag}-shop` && i.alias === null));

  // A second berth server (another state folder) with the same prefix cannot take the first one's link or slot.
  const blog = await nets.ensure('blog', slot(1));
  const otherDir = await mkdtemp(join(tmpdir(), 'berth-net-other-'));
  t.after(() => rm(otherDir, { recursive: true, force: true }));
  const other = await openSandboxNetworks({ ...opts, dir: join(otherDir, 'netns') });
  t.after(() => other.close());
  await assert.rejects(other.ensure('blog', slot(2)), /is not the link of app blog's network \(its alias is "berth .*\/blog"\)/);
  await assert.rejects(other.ensure('news', slot(1)), new RegExp(`${blog.hostAddress.replaceAll('.', '\\.')} \\(app news's link\\) is already an address of bt${tag}-blog`));
  await other.remove('blog'); // not its own: left alone
  assert.deepEqual(await nets.ensure('blog', slot(1)), blog);
  assert.ok((await hostInterfaces()).some((i) => i.ifname === `bt${tag}-blog`));
  assert.deepEqual(await readdir(join(otherDir, 'netns')), [], 'the refused ensure() made nothing, not even a namespace file');
});

test('the host\'s rules are one table, replaced whole at each start', async (t) => {
  const { options: opts, open } = await setup(t);
  await open();
  await open();
  const tables = (await sh(['nft', 'list', 'tables'])).split('\n').filter((l) => l === `table inet ${opts.table}`);
  assert.equal(tables.length, 1);
  const rules = await sh(['nft', 'list', 'table', 'inet', opts.table!]);
  assert.equal(rules.match(/reject with tcp reset/g)?.length, 4);
});

test('slirp that cannot start says why, in BERTH_E_SANDBOX_NETWORK with its own last words', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-net-egress-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tools = new NetTools(await findNetTools(), null);
  await assert.rejects(startEgress(tools, join(dir, 'no-such-namespace'), '127.0.0.1', join(dir, 'log')), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'BERTH_E_SANDBOX_NETWORK');
    assert.match(err.message, /^slirp4netns for .*no-such-namespace exited with 1: .*existing path expected/);
    return true;
  });
});

test('missing programs: BERTH_E_SANDBOX_TOOL names them and their Debian packages', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'berth-no-tools-'));
  try {
    await assert.rejects(findNetTools(empty, []), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'BERTH_E_SANDBOX_TOOL');
      assert.match(err.message, /needs ip, nft, nsenter, unshare, umount, sysctl, slirp4netns, which are not installed \(Debian: iproute2, nftables, util-linux, mount, procps, slirp4netns\)/);
      assert.match(err.hint!, /apt-get install bubblewrap slirp4netns nftables iproute2/);
      return true;
    });
  } finally {
    await rm(empty, { recursive: true });
  }
  assert.equal((await findNetTools()).slirp4netns.endsWith('/slirp4netns'), true);
});

test('bad input: an app name, a slot, options', async (t) => {
  const { options: opts, open } = await setup(t);
  const nets = await open();
  await assert.rejects(nets.ensure('../etc', slot(0)), { code: 'BERTH_E_NAME' });
  await assert.rejects(nets.remove('a/b'), { code: 'BERTH_E_NAME' });
  await assert.rejects(nets.ensure('shop', 3), { code: 'BERTH_E_SANDBOX_NETWORK' });
  await assert.rejects(openSandboxNetworks({ ...opts, dir: 'relative' }), { code: 'BERTH_E_USAGE' });
  await assert.rejects(openSandboxNetworks({ ...opts, serviceAddress: '169.254.3.1' }), { code: 'BERTH_E_USAGE' });
  await assert.rejects(openSandboxNetworks({ ...opts, linkPrefix: 'x*-' }), { code: 'BERTH_E_USAGE' });
  await assert.rejects(openSandboxNetworks({ ...opts, table: 'berth; flush ruleset' }), { code: 'BERTH_E_USAGE' });
});
