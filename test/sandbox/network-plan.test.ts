import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EgressProcess } from '../../src/sandbox/egress.ts';
import type { Interface } from '../../src/sandbox/ip-json.ts';
import { planNetwork, type DesiredNetwork, type ObservedNetwork } from '../../src/sandbox/network-plan.ts';

const PATH = '/var/lib/berth/run/netns/shop';
const desired: DesiredNetwork = {
  app: 'shop',
  netnsPath: PATH,
  linkName: 'bh-shop',
  alias: `berth ${PATH}`,
  hostAddress: '169.254.1.0',
  address: '169.254.1.1',
  prefixLength: 31,
  rules: 'RULES',
};

function iface(ifname: string, more: Partial<Interface> = {}): Interface {
  return { ifindex: 1, ifname, peerIndex: null, kind: null, alias: null, up: true, ipv4: [], labels: {}, ipv6: [], ...more };
}

const eth0Host = iface('eth0', { ifindex: 4, ipv4: ['192.0.2.2/24'] });
const hostEnd = iface('bh-shop', { ifindex: 11, peerIndex: 2, kind: 'veth', alias: desired.alias, ipv4: ['169.254.1.0/31'] });
const lo = iface('lo', { ipv4: ['127.0.0.1/8'], ipv6: ['::1/128'] });
const innerEnd = iface('eth0', { ifindex: 2, peerIndex: 11, kind: 'veth', ipv4: ['169.254.1.1/31'] });
const tap = iface('tap0', { ifindex: 3, kind: 'tun', ipv4: ['10.0.2.100/24'] });
const slirp: EgressProcess = { pid: 900, startTime: 5, netnsPath: PATH, outboundAddress: '192.0.2.2' };

/** A network that is whole, as a restarted daemon finds it. */
const whole: ObservedNetwork = {
  namespaceMounted: true,
  host: [lo, eth0Host, hostEnd],
  inside: [lo, innerEnd, tap],
  egress: [slirp],
  outboundAddress: '192.0.2.2',
  appliedRules: 'RULES',
};

const kinds = (observed: ObservedNetwork) => planNetwork(desired, observed).map((s) => ('flush' in s ? `${s.kind}${s.flush ? ' (flush)' : ''}` : 'process' in s ? `${s.kind} ${s.process.pid}` : s.kind));

test('nothing yet: a namespace, a link, both ends, the rules and slirp', () => {
  assert.deepEqual(kinds({ ...whole, namespaceMounted: false, host: [lo, eth0Host], inside: [], egress: [], appliedRules: null }), [
    'create-namespace',
    'create-link',
    'configure-host-end',
    'configure-inner-end',
    'apply-namespace-rules',
    'start-egress',
  ]);
});

test('a whole network is kept as it is: nothing a running app uses is touched', () => {
  assert.deepEqual(kinds(whole), ['keep-egress 900']);
});

test('after a daemon restart the rules are loaded again once (they may be an older berth\'s)', () => {
  assert.deepEqual(kinds({ ...whole, appliedRules: null }), ['apply-namespace-rules', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, appliedRules: 'OLDER RULES' }), ['apply-namespace-rules', 'keep-egress 900']);
});

test('after a reboot (the file is no longer a namespace) everything is made anew; a stale link of ours goes first', () => {
  assert.deepEqual(kinds({ ...whole, namespaceMounted: false, inside: [], egress: [] }), [
    'create-namespace',
    'delete-host-link',
    'create-link',
    'configure-host-end',
    'configure-inner-end',
    'apply-namespace-rules',
    'start-egress',
  ]);
});

test('a slirp still naming the file of a namespace that was lost is ended, never kept', () => {
  assert.deepEqual(kinds({ ...whole, namespaceMounted: false, inside: [], appliedRules: null }).slice(-2), ['stop-egress 900', 'start-egress']);
});

test('a link whose ends are not each other\'s peers is made anew', () => {
  assert.deepEqual(kinds({ ...whole, host: [lo, eth0Host] }), ['delete-inner-link', 'create-link', 'configure-host-end', 'configure-inner-end', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, inside: [lo, tap] }), ['delete-host-link', 'create-link', 'configure-host-end', 'configure-inner-end', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, inside: [lo, { ...innerEnd, peerIndex: 12 }, tap] }).slice(0, 3), ['delete-host-link', 'delete-inner-link', 'create-link']);
  assert.deepEqual(kinds({ ...whole, inside: [lo, { ...innerEnd, kind: 'dummy' }, tap] }).slice(0, 3), ['delete-host-link', 'delete-inner-link', 'create-link']);
});

test('an end with the wrong address (the app\'s slot changed), an IPv6 address, or down is configured again', () => {
  assert.deepEqual(kinds({ ...whole, host: [lo, eth0Host, { ...hostEnd, ipv4: ['169.254.1.4/31'] }] }), ['configure-host-end (flush)', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, host: [lo, eth0Host, { ...hostEnd, ipv4: [] }] }), ['configure-host-end', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, host: [lo, eth0Host, { ...hostEnd, ipv6: ['fe80::1/64'] }] }), ['configure-host-end (flush)', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, host: [lo, eth0Host, { ...hostEnd, up: false }] }), ['configure-host-end (flush)', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, inside: [lo, { ...innerEnd, ipv4: ['169.254.1.1/31', '10.9.9.9/8'] }, tap] }), ['configure-inner-end (flush)', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, inside: [lo, { ...innerEnd, up: false }, tap] }), ['configure-inner-end (flush)', 'keep-egress 900']);
  assert.deepEqual(kinds({ ...whole, inside: [{ ...lo, up: false }, innerEnd, tap] }), ['configure-inner-end (flush)', 'keep-egress 900']);
});

test('slirp bound to an address the host no longer has is replaced', () => {
  assert.deepEqual(kinds({ ...whole, outboundAddress: '192.0.2.77' }), ['stop-egress 900', 'start-egress']);
});

test('a namespace without tap0 has a slirp that serves nothing: replaced', () => {
  assert.deepEqual(kinds({ ...whole, inside: [lo, innerEnd] }), ['stop-egress 900', 'start-egress']);
});

test('of several slirps one is kept, the others ended', () => {
  const other = { ...slirp, pid: 901 };
  const stale = { ...slirp, pid: 902, outboundAddress: null };
  assert.deepEqual(kinds({ ...whole, egress: [stale, slirp, other] }), ['stop-egress 902', 'stop-egress 901', 'keep-egress 900']);
});

test('a link of that name that is not this app\'s (another state folder, an operator) stops the plan before any step', () => {
  for (const other of [
    { ...hostEnd, alias: 'berth /srv/other-berth/run/netns/shop' },
    { ...hostEnd, alias: null },
    { ...hostEnd, kind: 'bridge' },
  ]) {
    assert.throws(() => planNetwork(desired, { ...whole, host: [lo, eth0Host, other] }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'BERTH_E_SANDBOX_NETWORK');
      assert.match(err.message, /bh-shop exists and is not the link of app shop's network/);
      return true;
    });
  }
});

test('an address of the link already on another interface stops the plan before any step', () => {
  for (const taken of ['169.254.1.0/31', '169.254.1.1/24', '169.254.1.1/32']) {
    const squatter = iface('bh-other', { ifindex: 12, kind: 'veth', alias: 'berth /srv/x/run/netns/other', ipv4: [taken] });
    assert.throws(() => planNetwork(desired, { ...whole, host: [lo, eth0Host, hostEnd, squatter] }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'BERTH_E_SANDBOX_NETWORK');
      assert.match(err.message, /is already an address of bh-other/);
      return true;
    });
  }
  // Its own link holding them is what it should be.
  assert.doesNotThrow(() => planNetwork(desired, whole));
});
