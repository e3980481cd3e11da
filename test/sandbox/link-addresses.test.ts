import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FIRST_LINK_SLOT, LAST_LINK_SLOT, LINK_RANGE, LINK_SLOTS, linkAddresses, linkName } from '../../src/sandbox/index.ts';
import { inCidr, ipv4ToNumber, linkAlias, linkPrefix, MAX_IFNAME, numberToIpv4 } from '../../src/sandbox/link-addresses.ts';

test('the range holds 16,256 links: 16,384 /31s less the 128 of the reserved first /24', () => {
  assert.equal(LINK_SLOTS, 16_256);
  assert.equal(LINK_SLOTS, 2 ** (32 - 17) / 2 - 128);
});

test('the first and last slots', () => {
  assert.deepEqual(linkAddresses(FIRST_LINK_SLOT), { hostAddress: '169.254.1.0', address: '169.254.1.1', prefixLength: 31 });
  assert.deepEqual(linkAddresses(FIRST_LINK_SLOT + 1), { hostAddress: '169.254.1.2', address: '169.254.1.3', prefixLength: 31 });
  assert.deepEqual(linkAddresses(LAST_LINK_SLOT), { hostAddress: '169.254.127.254', address: '169.254.127.255', prefixLength: 31 });
});

test('every slot: a /31 of the range, host end even, app end the next address, none shared, none in 169.254.0.0/24', () => {
  const seen = new Set<string>();
  for (let slot = FIRST_LINK_SLOT; slot <= LAST_LINK_SLOT; slot++) {
    const { hostAddress, address } = linkAddresses(slot);
    const host = ipv4ToNumber(hostAddress);
    assert.equal(host % 2, 0, `slot ${slot}`);
    assert.equal(ipv4ToNumber(address), host + 1);
    assert.ok(inCidr(hostAddress, LINK_RANGE) && inCidr(address, LINK_RANGE), `slot ${slot}`);
    assert.ok(!inCidr(hostAddress, '169.254.0.0/24'), `slot ${slot}`);
    assert.ok(!seen.has(hostAddress) && !seen.has(address), `slot ${slot}`);
    seen.add(hostAddress).add(address);
  }
  assert.equal(seen.size, 2 * LINK_SLOTS);
});

test('a slot outside the range, or not a whole number, is refused', () => {
  for (const slot of [-1, 0, 1, FIRST_LINK_SLOT - 1, LAST_LINK_SLOT + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => linkAddresses(slot), { code: 'BERTH_E_SANDBOX_NETWORK' }, String(slot));
  }
});

test('a short app name is its link name, readable in ip link', () => {
  assert.equal(linkName('shop'), 'bh-shop');
  assert.equal(linkName('a'), 'bh-a');
  assert.equal(linkName('twelve-chars'), 'bh-twelve-chars');
  assert.equal(linkName('twelve-chars').length, MAX_IFNAME);
});

test('a long app name gets its first letters and a hash of the whole, within 15 characters', () => {
  assert.match(linkName('thirteen-char'), /^bh-thirt_[0-9a-f]{6}$/);
  const name = linkName('a-very-long-application-name-that-keeps-going');
  assert.equal(name.length, MAX_IFNAME);
  assert.notEqual(linkName('shop-frontend-eu'), linkName('shop-frontend-us'));
});

test('link names: at most 15 characters, only what ifnames and nft patterns take, the same every time, never shared by two apps', () => {
  const app = fc.stringMatching(/^[a-z][a-z0-9-]{0,62}$/);
  const prefix = fc.constantFrom('bh-', 'b-', 'bt1234-', 'x9-');
  fc.assert(
    fc.property(app, app, prefix, (a, b, p) => {
      const name = linkName(a, p);
      assert.ok(name.length <= MAX_IFNAME);
      assert.match(name, /^[a-z0-9_-]+$/);
      assert.ok(name.startsWith(p));
      assert.equal(linkName(a, p), name);
      if (a !== b) assert.notEqual(linkName(b, p), name);
    }),
    { numRuns: 2_000 },
  );
});

test('a link prefix is 2 to 7 characters ending in "-"; anything that could widen the rules\' pattern is refused', () => {
  for (const ok of ['bh-', 'b-', 'bt1234-']) assert.equal(linkPrefix(ok), ok);
  for (const bad of ['', '-', 'bh', 'bh*', 'b h-', 'BH-', '1h-', 'bt12345-', 'bh"-', 'b.-']) {
    assert.throws(() => linkPrefix(bad), { code: 'BERTH_E_USAGE' }, bad);
    assert.throws(() => linkName('shop', bad), { code: 'BERTH_E_USAGE' }, bad);
  }
});

test('the alias names the namespace file, so two state folders never share a link', () => {
  assert.equal(linkAlias('/var/lib/berth/run/netns/shop'), 'berth /var/lib/berth/run/netns/shop');
  assert.notEqual(linkAlias('/a/run/netns/shop'), linkAlias('/b/run/netns/shop'));
});

test('IPv4 arithmetic', () => {
  assert.equal(numberToIpv4(ipv4ToNumber('169.254.127.255')), '169.254.127.255');
  assert.equal(numberToIpv4(ipv4ToNumber('255.255.255.255')), '255.255.255.255');
  assert.equal(numberToIpv4(0), '0.0.0.0');
  assert.ok(inCidr('169.254.127.255', LINK_RANGE));
  assert.ok(!inCidr('169.254.128.0', LINK_RANGE));
  assert.ok(!inCidr('169.254.200.1', LINK_RANGE));
  assert.ok(!inCidr('169.254.169.254', LINK_RANGE));
  assert.ok(inCidr('10.0.2.3', '10.0.2.0/24'));
  for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '', 'a.b.c.d', '1.2.3.4 ']) {
    assert.throws(() => ipv4ToNumber(bad), { code: 'BERTH_E_ADDRESS' }, bad);
  }
});
