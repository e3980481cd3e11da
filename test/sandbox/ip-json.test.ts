import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outboundAddress, parseDefaultRoutes, parseInterfaces, parseRouteSource } from '../../src/sandbox/ip-json.ts';

// Trimmed from iproute2 6.1's `ip -j -d address show` on a host with one app network.
const HOST = JSON.stringify([
  {
    ifindex: 1,
    ifname: 'lo',
    flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
    addr_info: [
      { family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host', label: 'lo' },
      { family: 'inet', local: '169.254.200.1', prefixlen: 32, scope: 'global', label: 'lo:berth' },
      { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' },
    ],
  },
  { ifindex: 2, ifname: 'ifb0', flags: ['BROADCAST', 'NOARP'], linkinfo: { info_kind: 'ifb' }, addr_info: [] },
  {
    ifindex: 4,
    ifname: 'eth0',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    parentbus: 'virtio',
    addr_info: [
      { family: 'inet', local: '192.0.2.2', prefixlen: 24, broadcast: '192.0.2.255', scope: 'global', label: 'eth0' },
      { family: 'inet6', local: 'fe80::fc:ff:fe00:1', prefixlen: 64, scope: 'link' },
    ],
  },
  {
    ifindex: 11,
    link_index: 2,
    ifname: 'bh-shop',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    link_netnsid: 0,
    linkinfo: { info_kind: 'veth' },
    ifalias: 'berth /var/lib/berth/run/netns/shop',
    addr_info: [{ family: 'inet', local: '169.254.1.0', prefixlen: 31, scope: 'global', label: 'bh-shop' }],
  },
]);

test('interfaces: name, index, peer, kind, alias, state and addresses', () => {
  const [lo, ifb, eth0, link] = parseInterfaces(HOST);
  assert.deepEqual(lo, { ifindex: 1, ifname: 'lo', peerIndex: null, kind: null, alias: null, up: true, ipv4: ['127.0.0.1/8', '169.254.200.1/32'], labels: { '169.254.200.1/32': 'lo:berth' }, ipv6: ['::1/128'] });
  assert.deepEqual(ifb, { ifindex: 2, ifname: 'ifb0', peerIndex: null, kind: 'ifb', alias: null, up: false, ipv4: [], labels: {}, ipv6: [] });
  assert.deepEqual(eth0?.ipv6, ['fe80::fc:ff:fe00:1/64']);
  assert.deepEqual(link, {
    ifindex: 11,
    ifname: 'bh-shop',
    peerIndex: 2,
    kind: 'veth',
    alias: 'berth /var/lib/berth/run/netns/shop',
    up: true,
    ipv4: ['169.254.1.0/31'],
    labels: {},
    ipv6: [],
  });
});

test('no interfaces: an empty list, or no output at all', () => {
  assert.deepEqual(parseInterfaces('[]'), []);
  assert.deepEqual(parseInterfaces(''), []);
  assert.deepEqual(parseInterfaces('\n'), []);
});

test('output berth does not understand is an error, not a guess', () => {
  for (const bad of ['not json', '{}', '[1]', '[{"ifname":"x"}]', '[{"ifindex":1}]', '[null]', '[{"ifindex":1,"ifname":"x","addr_info":[7]}]']) {
    assert.throws(() => parseInterfaces(bad), { code: 'BERTH_E_SANDBOX_NETWORK' }, bad);
  }
});

test('addresses without a local address or prefix are skipped; unknown families ignored', () => {
  const [i] = parseInterfaces(JSON.stringify([{ ifindex: 3, ifname: 'x', addr_info: [{ family: 'inet' }, { family: 'inet', local: '10.1.1.1' }, { family: 'mpls', local: 'a', prefixlen: 1 }] }]));
  assert.deepEqual(i?.ipv4, []);
  assert.deepEqual(i?.ipv6, []);
});

test('default routes, lowest metric first; other routes ignored', () => {
  const text = JSON.stringify([
    { dst: 'default', gateway: '10.0.0.1', dev: 'wlan0', metric: 600 },
    { dst: 'default', gateway: '192.0.2.1', dev: 'eth0', flags: [] },
    { dst: '10.0.0.0/24', dev: 'wlan0' },
    { dst: 'default', dev: 'ppp0', prefsrc: '198.51.100.9', metric: 50 },
  ]);
  assert.deepEqual(parseDefaultRoutes(text), [
    { gateway: '192.0.2.1', dev: 'eth0', prefsrc: null, metric: 0 },
    { gateway: null, dev: 'ppp0', prefsrc: '198.51.100.9', metric: 50 },
    { gateway: '10.0.0.1', dev: 'wlan0', prefsrc: null, metric: 600 },
  ]);
  assert.deepEqual(parseDefaultRoutes(''), []);
});

test('the source of a route', () => {
  assert.equal(parseRouteSource('[{"dst":"192.0.2.1","dev":"eth0","prefsrc":"192.0.2.2","flags":[],"uid":0,"cache":[]}]'), '192.0.2.2');
  assert.equal(parseRouteSource('[{"dst":"192.0.2.1","dev":"eth0"}]'), null);
  assert.equal(parseRouteSource('[]'), null);
});

test('the outbound address: the default route\'s source, else its gateway\'s route\'s source, else its device\'s first address, else none', () => {
  const interfaces = parseInterfaces(HOST);
  const route = (r: Partial<{ gateway: string | null; dev: string; prefsrc: string | null }>) => ({ gateway: null, dev: 'eth0', prefsrc: null, metric: 0, ...r });
  assert.equal(outboundAddress([route({ prefsrc: '203.0.113.5' })], '192.0.2.2', interfaces), '203.0.113.5');
  assert.equal(outboundAddress([route({ gateway: '192.0.2.1' })], '192.0.2.2', interfaces), '192.0.2.2');
  assert.equal(outboundAddress([route({})], null, interfaces), '192.0.2.2');
  assert.equal(outboundAddress([route({ dev: 'ifb0' })], null, interfaces), null);
  assert.equal(outboundAddress([], '192.0.2.2', interfaces), null);
});
