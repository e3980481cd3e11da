// The attacks on the apps' network boundary: a hostile app (its own uid,
// inside its own network namespace, as berth makes it) connecting to its
// neighbour's instance port, to the host through its link, to the host's
// loopback, to the cloud's metadata service; a machine outside connecting
// to an app that binds 0.0.0.0 while the host forwards; a non-root user
// on the host going around the edge. Before the sandbox, an app ran on the
// host's own network: every one of these connected.
//
// The "host" is a network namespace of the test's own (with ip_forward on,
// its own sysctl, never the machine's), linked to an "outside" namespace
// that is its default gateway (the internet, the metadata service, the DNS
// server) and routes all of 169.254.0.0/16 to it. berth's code runs
// unchanged against it (hostNetns), so nothing here touches the machine's
// own network.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openSandboxNetworks, removeHostNetworking, type AppNetwork, type OpenedSandboxNetworks, type SandboxNetworksOptions } from '../../src/sandbox/index.ts';
import { parseInterfaces } from '../../src/sandbox/ip-json.ts';
import { dnsQuery, HOST_PUBLIC, inNetns, makeTestHost, NetnsFolder, OUTSIDE, probe, sh, systemNameserver } from '../helpers/netns.ts';

const VICTIM_UID = 64_301;
const HOSTILE_UID = 64_302;
const HOST_USER_UID = 64_303;
const METADATA = '169.254.169.254';

let folder: NetnsFolder;
let host: string;
let outside: string;
let options: SandboxNetworksOptions;
let nets: OpenedSandboxNetworks;
let victim: AppNetwork;
let hostile: AppNetwork;

before(async () => {
  folder = await NetnsFolder.make('netattack');
  ({ host, outside } = await makeTestHost(folder));
  options = { dir: folder.path('netns'), hostNetns: host };
  nets = await openSandboxNetworks(options);
  victim = await nets.ensure('victim', 128);
  hostile = await nets.ensure('hostile', 129);
  const { programs } = folder;
  // Both apps bind every address, as gunicorn from a Procfile does.
  await programs.listen(victim.netnsPath, VICTIM_UID, '0.0.0.0', 8080, 'victim');
  await programs.listen(hostile.netnsPath, HOSTILE_UID, '0.0.0.0', 8080, 'hostile');
  // The host: a service on every address (sshd, a database someone opened), one on loopback (berth's API), the add-ons.
  await programs.listen(host, null, '0.0.0.0', 9000, 'host-any');
  await programs.listen(host, null, '127.0.0.1', 9001, 'host-loopback');
  await programs.listen(host, null, nets.serviceAddress, 9002, 'add-on');
  // berth's own PostgreSQL and Redis: listening on 127.0.0.1 and on the service address themselves (no relay in the daemon).
  await programs.listen(host, null, '127.0.0.1', 9004, 'local-server-loopback');
  await programs.listen(host, null, nets.serviceAddress, 9004, 'local-server');
  // Beyond the gateway: the internet, the cloud's metadata service, the machine's DNS server.
  await programs.listen(outside, null, OUTSIDE, 9003, 'internet');
  await sh(inNetns(outside, null, ['ip', 'address', 'add', `${METADATA}/32`, 'dev', 'lo']));
  await programs.listen(outside, null, METADATA, 80, 'metadata');
  // slirp forwards DNS to the machine's resolv.conf's nameserver: it answers here, on the host or beyond it.
  const nameserver = systemNameserver();
  const dnsSide = nameserver.startsWith('127.') ? host : outside;
  if (dnsSide === outside) await sh(inNetns(outside, null, ['ip', 'address', 'add', `${nameserver}/32`, 'dev', 'lo']));
  await programs.dnsResponder(dnsSide, nameserver, '203.0.113.7');
});

after(async () => {
  await nets?.close();
  await folder?.cleanup();
});

/** A connection attempt from inside the hostile app, as its user. */
function fromHostile(...targets: string[]): Promise<Record<string, string>> {
  return probe(hostile.netnsPath, HOSTILE_UID, targets);
}

/** Restores what a test took away, the way a restarted daemon does: open and ensure again. */
async function restart(): Promise<void> {
  const again = await openSandboxNetworks(options);
  await again.ensure('victim', 128);
  await again.ensure('hostile', 129);
  await again.close();
}

test('the edge (root on the host) reaches both apps at their addresses, though they bind 0.0.0.0', async () => {
  assert.deepEqual(await probe(host, null, [`${victim.address}:8080`, `${hostile.address}:8080`]), {
    [`${victim.address}:8080`]: 'connected hello from victim',
    [`${hostile.address}:8080`]: 'connected hello from hostile',
  });
});

test('a hostile app connecting to its neighbour\'s instance port is refused at once', async () => {
  assert.deepEqual(await fromHostile(`${victim.address}:8080`, `${victim.address}:22`), {
    [`${victim.address}:8080`]: 'refused',
    [`${victim.address}:22`]: 'refused',
  });
  // Its own port, from inside, is its own business.
  assert.deepEqual(await fromHostile('127.0.0.1:8080'), { '127.0.0.1:8080': 'connected hello from hostile' });
});

test('with the hostile app\'s namespace rules gone, the host\'s rules alone still refuse it', async () => {
  await sh(inNetns(hostile.netnsPath, null, ['nft', 'delete', 'table', 'inet', 'berth']));
  try {
    assert.deepEqual(await fromHostile(`${victim.address}:8080`, `${hostile.hostAddress}:9000`, `${victim.hostAddress}:9000`), {
      [`${victim.address}:8080`]: 'refused',
      [`${hostile.hostAddress}:9000`]: 'refused',
      [`${victim.hostAddress}:9000`]: 'refused',
    });
  } finally {
    await restart();
  }
  assert.match(await sh(inNetns(hostile.netnsPath, null, ['nft', 'list', 'tables'])), /table inet berth/, 'a restarted daemon loads them again');
});

test('with the host\'s rules gone, the app\'s namespace rules alone still refuse it', async () => {
  await removeHostNetworking(options);
  try {
    assert.deepEqual(await fromHostile(`${victim.address}:8080`, `${hostile.hostAddress}:9000`, `${victim.hostAddress}:9000`, `10.0.2.2:9001`), {
      [`${victim.address}:8080`]: 'refused',
      [`${hostile.hostAddress}:9000`]: 'refused',
      [`${victim.hostAddress}:9000`]: 'refused',
      '10.0.2.2:9001': 'refused',
    });
  } finally {
    await restart();
  }
});

test('a hostile app cannot reach the host through its link: the host end of its link, or its neighbour\'s, where every service bound to 0.0.0.0 answers', async () => {
  // The service answers on every address of the host: the links' host ends are addresses of the host.
  assert.deepEqual(await probe(host, null, [`${HOST_PUBLIC}:9000`]), { [`${HOST_PUBLIC}:9000`]: 'connected hello from host-any' }, 'the service is there');
  assert.deepEqual(await fromHostile(`${hostile.hostAddress}:9000`, `${victim.hostAddress}:9000`), {
    [`${hostile.hostAddress}:9000`]: 'refused',
    [`${victim.hostAddress}:9000`]: 'refused',
  });
});

test('a hostile app cannot reach the host\'s loopback (the API, the dashboard, metrics)', async () => {
  const seen = await fromHostile('10.0.2.2:9001', '10.0.2.2:9000');
  for (const [target, outcome] of Object.entries(seen)) assert.match(outcome, /^(refused|unreachable)$/, target);
});

test('a hostile app cannot reach the cloud\'s metadata service (the machine\'s credentials), nor any link-local address', async () => {
  assert.deepEqual(await probe(host, null, [`${METADATA}:80`]), { [`${METADATA}:80`]: 'connected hello from metadata' }, 'the host can');
  assert.deepEqual(await fromHostile(`${METADATA}:80`, '169.254.128.1:80'), { [`${METADATA}:80`]: 'refused', '169.254.128.1:80': 'refused' });
});

test('an app still reaches the internet, the host\'s public address, its add-ons and DNS', async () => {
  assert.deepEqual(await fromHostile(`${OUTSIDE}:9003`, `${HOST_PUBLIC}:9000`, `${nets.serviceAddress}:9002`), {
    [`${OUTSIDE}:9003`]: 'connected hello from internet',
    [`${HOST_PUBLIC}:9000`]: 'connected hello from host-any',
    [`${nets.serviceAddress}:9002`]: 'connected hello from add-on',
  });
  assert.deepEqual(await dnsQuery(hostile.netnsPath, HOSTILE_UID, hostile.nameserver, 'shop.example.com'), { answered: true, rcode: 0, address: '203.0.113.7' });
});

test('berth\'s own add-on servers, on 127.0.0.1 and the service address: an app reaches them at the service address only, and nothing that listens on the host\'s loopback alone', async () => {
  const seen = await fromHostile(`${nets.serviceAddress}:9004`, `${nets.serviceAddress}:9001`, '10.0.2.2:9004');
  assert.equal(seen[`${nets.serviceAddress}:9004`], 'connected hello from local-server');
  // The API on the host's loopback stays out of reach, though the servers beside it are reached.
  assert.equal(seen[`${nets.serviceAddress}:9001`], 'refused');
  assert.match(seen['10.0.2.2:9004']!, /^(refused|unreachable)$/, "not through the host's loopback");
  const fromOutside = await probe(outside, null, [`${nets.serviceAddress}:9004`], 1_000);
  assert.doesNotMatch(fromOutside[`${nets.serviceAddress}:9004`]!, /^connected/, 'nor from off the machine');
});

test('from outside the machine, an app that binds 0.0.0.0 cannot be reached, even while the host forwards', async () => {
  assert.equal((await sh(inNetns(host, null, ['sysctl', '-n', 'net.ipv4.ip_forward']))).trim(), '1');
  assert.deepEqual(await probe(outside, null, [`${HOST_PUBLIC}:9000`]), { [`${HOST_PUBLIC}:9000`]: 'connected hello from host-any' }, 'the host is reachable');
  const seen = await probe(outside, null, [`${victim.address}:8080`, `${victim.hostAddress}:9000`, `${nets.serviceAddress}:9002`], 1_000);
  for (const [target, outcome] of Object.entries(seen)) assert.doesNotMatch(outcome, /^connected/, target);
});

test('a user of the host other than root cannot reach an app past the edge', async () => {
  assert.deepEqual(await probe(host, HOST_USER_UID, [`${victim.address}:8080`]), { [`${victim.address}:8080`]: 'refused' });
});

test('a hostile app can neither change its network nor its rules, nor take its neighbour\'s address', async () => {
  const asHostile = (argv: string[], input?: string) => sh(inNetns(hostile.netnsPath, HOSTILE_UID, argv), input);
  await assert.rejects(asHostile(['ip', 'address', 'add', `${victim.address}/32`, 'dev', 'eth0']), /Operation not permitted/);
  await assert.rejects(asHostile(['ip', 'route', 'add', `${victim.address}/32`, 'dev', 'eth0']), /Operation not permitted/);
  await assert.rejects(asHostile(['nft', 'delete', 'table', 'inet', 'berth']), /Operation not permitted/);
  assert.deepEqual(await fromHostile(`${victim.address}:8080`), { [`${victim.address}:8080`]: 'refused' });
});

test('no IPv6 path between an app and the host: neither end of its link, nor its way out, has an IPv6 address', async () => {
  const inside = parseInterfaces(await sh(inNetns(hostile.netnsPath, null, ['ip', '-j', 'address', 'show'])));
  const onHost = parseInterfaces(await sh(inNetns(host, null, ['ip', '-j', 'address', 'show'])));
  for (const i of [...inside.filter((i) => i.ifname !== 'lo'), ...onHost.filter((i) => i.ifname.startsWith('bh-'))]) assert.deepEqual(i.ipv6, [], i.ifname);
  assert.equal(onHost.filter((i) => i.ifname.startsWith('bh-')).length, 2);
});
