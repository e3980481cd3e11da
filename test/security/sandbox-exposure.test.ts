// Attacks on the apps' ports, through a real `berth server --sandbox
// required`: a hostile app connecting to its neighbour's instance port
// directly (around the edge's limits and logs), and a machine on a network
// of the host's reaching apps that bind 0.0.0.0 (gunicorn from a Procfile
// does). Before the sandbox every app listened on the host's own network:
// the neighbour's port answered on 127.0.0.1 and on every address of the
// host, to other apps and to the network alike.
//
// The network is a namespace of the test's own, linked to the host by a
// veth pair with addresses from 198.18.0.0/15 (RFC 2544's benchmarking
// range, on no real network), made and removed here. Forwarding is turned
// on for that link alone (its own sysctl, gone with it), never for the
// host: packets from the namespace are routed by the host, toward the
// apps' links too, as on a host with ip_forward on.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { ipv4ToNumber, numberToIpv4 } from '../../src/sandbox/link-addresses.ts';
import { parseInterfaces } from '../../src/sandbox/ip-json.ts';
import { stateId } from '../../src/sandbox/index.ts';
import { eventually } from '../helpers/berth-process.ts';
import { inNetns, makeNetns, NetnsFolder, sh } from '../helpers/netns.ts';
import { edgeRequest, hostileSpawn, whoami } from './hostile-app.ts';
import { askNeighbour, assertServed, connected, HOSTILE, HOSTILE_HOST, NEIGHBOUR, NEIGHBOUR_HOST, probeFromHostile, PROBE, ps, sandboxScene } from './sandbox-scene.ts';

/** An app's link: its address inside its namespace (where the edge connects) and the host's end. */
async function appLink(state: string, app: string): Promise<{ address: string; hostAddress: string }> {
  const inside = parseInterfaces(await sh(inNetns(`/run/berth/${stateId(state)}/netns/${app}`, null, ['ip', '-j', 'address', 'show', 'dev', 'eth0'])));
  const address = inside[0]?.ipv4[0]?.split('/')[0];
  assert.ok(address !== undefined, `${app} has no address on its link`);
  // A /31: the host's end is the even address, the app's the odd one.
  return { address, hostAddress: numberToIpv4(ipv4ToNumber(address) - 1) };
}

/** Every IPv4 address of the host: loopback, its network's, the service address, the apps' links' host ends. */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => entry.family === 'IPv4')
    .map((entry) => entry.address);
}

/** The neighbour's port, as `berth ps` and the neighbour itself say it. */
async function neighbourPort(t: TestContext, d: Parameters<typeof ps>[0]): Promise<number> {
  const [instance] = await ps(d, NEIGHBOUR);
  const own = (JSON.parse((await edgeRequest(d.edge, NEIGHBOUR_HOST, 'GET', '/whoami')).body) as { port: number }).port;
  assert.equal(instance?.port, own);
  t.diagnostic(`the neighbour listens on 0.0.0.0:${own}`);
  return own;
}

test('a hostile app connecting to its neighbour\'s instance port, at its link address, on loopback or at any address of the host, is refused', async (t) => {
  const { daemon: d, state } = await sandboxScene(t, 'sbport');
  const port = await neighbourPort(t, d);
  const link = await appLink(state, NEIGHBOUR);
  const own = await whoami(d, HOSTILE_HOST);
  // Where the edge stands (root, on the host), the neighbour answers at its link address.
  const fromEdge = JSON.parse(await sh([process.execPath, '-e', PROBE, '3000', `${link.address}:${port}`])) as Record<string, string>;
  assert.match(fromEdge[`${link.address}:${port}`]!, /^connected HTTP\/1\.1 200/);
  const targets = [...new Set([link.address, link.hostAddress, '127.0.0.1', ...hostAddresses()])].map((address) => `${address}:${port}`);
  const neighbour = askNeighbour(t, d);
  const seen = await probeFromHostile(d, [...targets, `127.0.0.1:${own.port}`]);
  assertServed(await neighbour.stop(), 1, 'the connection attempts');
  t.diagnostic(`from the hostile app: ${JSON.stringify(seen)}`);
  // The probe connects where there is something of its own to connect to.
  assert.match(seen[`127.0.0.1:${own.port}`]!, /^connected HTTP\/1\.1 200/);
  for (const target of targets) assert.match(seen[target]!, /^(refused|reset|unreachable)$/, target);
});

test('apps that bind 0.0.0.0 cannot be reached from a network of the host, nor from the host\'s own non-loopback addresses, even routed by the host', async (t) => {
  const { daemon: d, state } = await sandboxScene(t, 'sbexpose');
  const port = await neighbourPort(t, d);
  // The hostile app opens a port of its own on every address, beside its web server.
  const open = randomInt(20_000, 60_000);
  await hostileSpawn(d, HOSTILE_HOST, ['node', '-e', `require('node:http').createServer((q, s) => s.end('hostile')).listen(${open}, '0.0.0.0')`]);
  const hostileLink = await appLink(state, HOSTILE);
  await eventually('the hostile app listens on every address', async () => (await probeFromHostile(d, [`${hostileLink.address}:${open}`]))[`${hostileLink.address}:${open}`]?.startsWith('connected'));
  const neighbourLink = await appLink(state, NEIGHBOUR);

  // The test's network: a namespace, a veth pair to the host, 198.18.N.0/30.
  const folder = await NetnsFolder.make('sbexpose-net');
  const lan = folder.path('lan');
  const hostEnd = `atk${randomBytes(3).toString('hex')}`;
  const net = randomInt(0, 512);
  const [hostSide, lanSide] = [`198.${18 + (net >> 8)}.${net & 255}.1`, `198.${18 + (net >> 8)}.${net & 255}.2`];
  t.after(async () => {
    await sh(['ip', 'link', 'delete', hostEnd]).catch(() => {});
    await folder.cleanup();
  });
  await makeNetns(lan);
  await sh(['ip', 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan]);
  await sh(['ip', '-batch', '-'], `address add ${hostSide}/30 dev ${hostEnd}\nlink set dev ${hostEnd} up\n`);
  await sh(['sysctl', '-q', '-w', `net.ipv4.conf.${hostEnd}.forwarding=1`]);
  await sh(inNetns(lan, null, ['ip', '-batch', '-']), `address add ${lanSide}/30 dev eth0\nlink set dev eth0 up\nroute add default via ${hostSide}\n`);

  const addresses = hostAddresses();
  assert.ok(addresses.includes(hostSide));
  const apps = [`${neighbourLink.address}:${port}`, `${hostileLink.address}:${open}`];
  const onHost = addresses.flatMap((address) => [`${address}:${port}`, `${address}:${open}`]);
  const neighbour = askNeighbour(t, d);
  const fromLan = JSON.parse(await sh(inNetns(lan, null, [process.execPath, '-e', PROBE, '2000', ...apps, ...onHost]))) as Record<string, string>;
  // From the host itself, from each of its addresses but loopback (whence the edge's connections never come).
  const sources = addresses.filter((address) => !address.startsWith('127.') && ![neighbourLink.hostAddress, hostileLink.hostAddress].includes(address));
  const fromHost = JSON.parse(await sh([process.execPath, '-e', PROBE, '2000', ...sources.flatMap((source) => [...apps, ...onHost].map((target) => `${target}@${source}`))])) as Record<string, string>;
  assertServed(await neighbour.stop(), 1, 'the connection attempts');
  t.diagnostic(`from ${lanSide}: ${JSON.stringify(fromLan)}`);
  t.diagnostic(`from the host's addresses ${sources.join(', ')}: ${Object.keys(fromHost).length} attempts, ${JSON.stringify(Object.fromEntries(Object.entries(fromHost).filter(([target]) => apps.some((app) => target.startsWith(app)))))}`);
  // The network reaches the host (its address answers, as a refusal): what it cannot reach is the apps.
  assert.equal(fromLan[`${hostSide}:${port}`], 'refused');
  assert.deepEqual(connected(fromLan), []);
  assert.deepEqual(connected(fromHost), []);
  // The edge reaches both still.
  assert.equal((await edgeRequest(d.edge, HOSTILE_HOST, 'GET', '/')).status, 200);
});
