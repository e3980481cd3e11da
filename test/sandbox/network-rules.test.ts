import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostRuleset, namespaceRuleset } from '../../src/sandbox/network-rules.ts';

const host = { table: 'berth', linkPrefix: 'bh-', linkRange: '169.254.0.0/17', serviceAddress: '169.254.200.1' };
const inside = { hostAddress: '169.254.1.0', address: '169.254.1.1', serviceAddress: '169.254.200.1', egressGateway: '10.0.2.2', nameserver: '10.0.2.3' };

/** The rules of one chain, in order. */
function chain(script: string, name: string): string[] {
  const start = script.indexOf(`  chain ${name} {`);
  assert.ok(start >= 0, `no chain ${name}`);
  const end = script.indexOf('\n  }', start);
  return script
    .slice(start, end)
    .split('\n')
    .slice(2)
    .map((l) => l.trim());
}

test('the host table replaces itself in one transaction and touches no other table', () => {
  const script = hostRuleset(host);
  assert.deepEqual(script.split('\n').slice(0, 3), ['table inet berth', 'delete table inet berth', 'table inet berth {']);
  assert.equal(script.match(/^(delete )?table /gm)?.length, 3);
  assert.doesNotMatch(script, /flush ruleset|ip_forward|table ip |table ip6 /);
  for (const name of ['input', 'output', 'forward']) assert.match(script, new RegExp(`chain ${name} \\{\\n    type filter hook ${name} priority filter; policy accept;`));
});

test('no rule tracks connections: nothing on the edge\'s path, and no conntrack table a sandbox could fill', () => {
  assert.doesNotMatch(hostRuleset(host), /\bct\b/);
  assert.doesNotMatch(namespaceRuleset(inside), /\bct\b/);
});

test('host input: from a link, and to a link\'s address from anywhere, only answers (no new connection, nothing but TCP and ICMP errors); the service address from lo only', () => {
  assert.deepEqual(chain(hostRuleset(host), 'input'), [
    'iifname "bh-*" tcp flags & (syn | ack) == syn reject with tcp reset',
    'iifname "bh-*" meta l4proto tcp accept',
    'iifname "bh-*" icmp type { destination-unreachable, time-exceeded, parameter-problem } accept',
    'iifname "bh-*" reject with icmpx type admin-prohibited',
    'ip daddr 169.254.0.0/17 tcp flags & (syn | ack) == syn reject with tcp reset',
    'ip daddr 169.254.0.0/17 meta l4proto tcp accept',
    'ip daddr 169.254.0.0/17 icmp type { destination-unreachable, time-exceeded, parameter-problem } accept',
    'ip daddr 169.254.0.0/17 reject with icmpx type admin-prohibited',
    'ip daddr 169.254.200.1 iifname != "lo" drop',
  ]);
});

test('host output: to a sandbox only from a link\'s address and only from root', () => {
  assert.deepEqual(chain(hostRuleset(host), 'output'), [
    'ip daddr 169.254.0.0/17 ip saddr != 169.254.0.0/17 meta l4proto tcp reject with tcp reset',
    'ip daddr 169.254.0.0/17 ip saddr != 169.254.0.0/17 reject with icmpx type admin-prohibited',
    'ip daddr 169.254.0.0/17 meta skuid != 0 meta l4proto tcp reject with tcp reset',
    'ip daddr 169.254.0.0/17 meta skuid != 0 reject with icmpx type admin-prohibited',
  ]);
});

test('host forward: nothing routed to or from a link, the range or the service address', () => {
  assert.deepEqual(chain(hostRuleset(host), 'forward'), [
    'iifname "bh-*" drop',
    'oifname "bh-*" drop',
    'ip daddr 169.254.0.0/17 drop',
    'ip daddr 169.254.200.1 drop',
  ]);
});

test('the table name, prefix, range and service address are the given ones', () => {
  const script = hostRuleset({ table: 'berth_t1', linkPrefix: 'bt1-', linkRange: '169.254.0.0/17', serviceAddress: '169.254.201.7' });
  assert.match(script, /^table inet berth_t1\ndelete table inet berth_t1\n/);
  assert.match(script, /iifname "bt1-\*"/);
  assert.match(script, /ip daddr 169\.254\.201\.7 iifname != "lo" drop/);
  assert.doesNotMatch(script, /"bh-\*"|169\.254\.200\.1/);
});

test('a value that could change the ruleset\'s meaning is refused', () => {
  assert.throws(() => hostRuleset({ ...host, linkPrefix: 'bh" accept #' }));
  assert.throws(() => hostRuleset({ ...host, linkPrefix: 'bh-\n' }));
});

test('inside a namespace: over its link only the edge comes in', () => {
  assert.deepEqual(chain(namespaceRuleset(inside), 'input'), ['iifname "eth0" ip saddr != 169.254.1.0 drop', 'iifname "eth0" meta nfproto ipv6 drop']);
});

test('inside a namespace: out to its loopback, answers to the edge, the add-ons, DNS and the internet; never other apps, the metadata service, other link-local addresses or the host\'s loopback', () => {
  assert.deepEqual(chain(namespaceRuleset(inside), 'output'), [
    'oifname "lo" accept',
    'ip daddr 169.254.1.0 tcp flags & (syn | ack) == syn reject with tcp reset',
    'ip daddr 169.254.1.0 meta l4proto tcp accept',
    'ip daddr 169.254.1.0 icmp type { destination-unreachable, time-exceeded, parameter-problem } accept',
    'ip daddr 169.254.1.0 reject with icmpx type admin-prohibited',
    'ip daddr 169.254.200.1 accept',
    'ip daddr 169.254.0.0/16 meta l4proto tcp reject with tcp reset',
    'ip daddr 169.254.0.0/16 reject with icmpx type admin-prohibited',
    'ip daddr 10.0.2.2 meta l4proto tcp reject with tcp reset',
    'ip daddr 10.0.2.2 reject with icmpx type admin-prohibited',
    'ip daddr 10.0.2.3 udp dport 53 accept',
    'ip daddr 10.0.2.3 tcp dport 53 accept',
    'ip daddr 10.0.2.3 meta l4proto tcp reject with tcp reset',
    'ip daddr 10.0.2.3 reject with icmpx type admin-prohibited',
    'meta nfproto ipv6 reject with icmpx type admin-prohibited',
  ]);
  assert.match(namespaceRuleset(inside), /^table inet berth\ndelete table inet berth\n/);
});

test('the namespace translates the edge\'s connections (and only those) to the app\'s loopback, so an app on 127.0.0.1 is served', () => {
  const script = namespaceRuleset(inside);
  assert.match(script, /table ip berth_nat \{\n  chain prerouting \{\n    type nat hook prerouting priority dstnat; policy accept;\n    iifname "eth0" ip saddr 169\.254\.1\.0 ip daddr 169\.254\.1\.1 meta l4proto tcp dnat to 127\.0\.0\.1\n  \}\n\}\n$/);
  assert.match(script, /^table ip berth_nat\ndelete table ip berth_nat\n/m, 'replaced atomically like the filter table');
});

