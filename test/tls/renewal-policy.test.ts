import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_RENEWAL_POLICY as P,
  certificateState,
  isUsable,
  needsRenewal,
  nextOrderTime,
  renewalTime,
  retryDelay,
  type HostCertificateFacts,
} from '../../src/tls/index.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.parse('2030-03-01T00:00:00Z');
const life = (days: number, start = T0) => ({ notBefore: start, notAfter: start + days * DAY });

test('renewalTime: 2/3 of the lifetime or 30 days before expiry, whichever is earlier, never before half', () => {
  const cases: Array<[string, number, number]> = [
    // [what, lifetime in days, renew after (days from notBefore)]
    ["a 90-day certificate (Let's Encrypt): day 60, both rules agree", 90, 60],
    ['a year-long certificate: 2/3 (day 243.3) is earlier than 30 days before (day 335)', 365, 365 * (2 / 3)],
    ['a 2-year certificate: 2/3', 730, 730 * (2 / 3)],
    ['a 60-day certificate: 30 days before expiry (day 30) is earlier than 2/3 (day 40), and is half', 60, 30],
    ['a 80-day certificate: 30 days before (day 50) is earlier than 2/3 (53.3)', 80, 50],
    ['a 6-day certificate: 30 days before is long past, so half (day 3)', 6, 3],
    ['a 45-day certificate: 30 days before (day 15) is before half, so half (22.5)', 45, 22.5],
  ];
  for (const [what, days, renewDay] of cases) {
    assert.ok(Math.abs(renewalTime(life(days)) - (T0 + renewDay * DAY)) <= 1, what);
  }
});

test('renewalTime of a seconds-long certificate (a test CA) is half its lifetime', () => {
  assert.equal(renewalTime({ notBefore: T0, notAfter: T0 + 10_000 }), T0 + 5000);
});

test('renewalTime of a degenerate certificate (notAfter before notBefore) is its notBefore', () => {
  assert.equal(renewalTime({ notBefore: T0, notAfter: T0 - DAY }), T0);
});

test('needsRenewal switches exactly at renewalTime; isUsable ends exactly at notAfter', () => {
  const cert = life(90);
  const at = renewalTime(cert);
  assert.equal(needsRenewal(cert, at - 1), false);
  assert.equal(needsRenewal(cert, at), true);
  assert.equal(isUsable(cert, cert.notAfter - 1), true);
  assert.equal(isUsable(cert, cert.notAfter), false);
  // Not yet valid by our clock: still served (clients judge with their own clocks).
  assert.equal(isUsable(cert, cert.notBefore - HOUR), true);
});

test('renewalTime always lies within the lifetime, between half and the 2/3 mark', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 1, max: 4000 * DAY }), (start, length) => {
      const cert = { notBefore: start, notAfter: start + length };
      const at = renewalTime(cert);
      assert.ok(at >= start + length / 2 - 1 && at <= start + (length * 2) / 3 + 1);
      assert.ok(at <= cert.notAfter);
    }),
  );
});

test('retryDelay: 1 min, doubling, capped at 6 h', () => {
  const expected = [0, MIN, 2 * MIN, 4 * MIN, 8 * MIN, 16 * MIN, 32 * MIN, 64 * MIN, 128 * MIN, 256 * MIN, 6 * HOUR, 6 * HOUR];
  expected.forEach((delay, failures) => assert.equal(retryDelay(failures), delay, `${failures} failures`));
  assert.equal(retryDelay(1000), 6 * HOUR);
  assert.equal(retryDelay(Number.MAX_SAFE_INTEGER), 6 * HOUR);
  assert.equal(retryDelay(-1), 0);
  assert.equal(retryDelay(Number.NaN), 0);
});

test('retryDelay jitter shortens by at most 10%, and never lengthens', () => {
  assert.equal(retryDelay(1, 0), MIN);
  assert.equal(retryDelay(1, 0.5), 0.95 * MIN);
  assert.equal(retryDelay(1, 0.999999), Math.round(MIN * (1 - 0.1 * 0.999999)));
  assert.equal(retryDelay(3, 1), 0.9 * 4 * MIN);
  // Out-of-range randomness is clamped.
  assert.equal(retryDelay(1, 7), 0.9 * MIN);
  assert.equal(retryDelay(1, -3), MIN);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (failures, random) => {
      const full = retryDelay(failures, 0);
      const jittered = retryDelay(failures, random);
      assert.ok(jittered <= full && jittered >= Math.floor(full * 0.9));
    }),
  );
});

test('retryDelay follows a custom policy', () => {
  const policy = { ...P, retryMinMs: 1000, retryMaxMs: 5000, retryJitter: 0 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => retryDelay(n, 0.5, policy)), [1000, 2000, 4000, 5000, 5000]);
});

const facts = (over: Partial<HostCertificateFacts> = {}): HostCertificateFacts => ({
  certificate: null,
  failures: 0,
  lastFailureAt: null,
  retryAfterMs: 0,
  ordering: false,
  ...over,
});

test('nextOrderTime: at once without a certificate; at renewal time with one; after the backoff after failures', () => {
  const cert = life(90);
  assert.equal(nextOrderTime(facts()), Number.NEGATIVE_INFINITY);
  assert.equal(nextOrderTime(facts({ certificate: cert })), renewalTime(cert));
  // A failure: the backoff rules, with or without a certificate on hand.
  assert.equal(nextOrderTime(facts({ failures: 1, lastFailureAt: T0, retryAfterMs: MIN })), T0 + MIN);
  assert.equal(nextOrderTime(facts({ certificate: cert, failures: 3, lastFailureAt: T0 + 61 * DAY, retryAfterMs: 4 * MIN })), T0 + 61 * DAY + 4 * MIN);
  // An expired certificate's renewal time is long past: at once.
  assert.ok(nextOrderTime(facts({ certificate: life(90, T0 - 100 * DAY) })) < T0);
});

test('certificateState: every combination of certificate, failure and order', () => {
  const cert = life(90);
  const now = T0 + 10 * DAY;
  const error = { code: 'BERTH_E_ACME', message: 'refused' };
  const expired = life(90, T0 - 100 * DAY);
  type Row = [string, Parameters<typeof certificateState>[0], ReturnType<typeof certificateState>];
  const rows: Row[] = [
    ['nothing yet', { ...facts(), lastError: null }, { state: 'pending' }],
    ['first order under way', { ...facts({ ordering: true }), lastError: null }, { state: 'pending' }],
    ['a good certificate', { ...facts({ certificate: cert }), lastError: null }, { state: 'valid', notAfter: cert.notAfter, renewAt: renewalTime(cert) }],
    ['renewal under way', { ...facts({ certificate: cert, ordering: true }), lastError: null }, { state: 'renewing', notAfter: cert.notAfter }],
    [
      'renewal under way after failures: renewing wins',
      { ...facts({ certificate: cert, ordering: true, failures: 2, lastFailureAt: now - MIN, retryAfterMs: MIN }), lastError: error },
      { state: 'renewing', notAfter: cert.notAfter },
    ],
    ['an expired certificate, nothing under way', { ...facts({ certificate: expired }), lastError: null }, { state: 'pending' }],
    ['an expired certificate being replaced', { ...facts({ certificate: expired, ordering: true }), lastError: null }, { state: 'pending' }],
    [
      'the first order failed',
      { ...facts({ failures: 1, lastFailureAt: now, retryAfterMs: MIN }), lastError: error },
      { state: 'failed', error, nextAttempt: now + MIN, failures: 1, notAfter: null },
    ],
    [
      'a renewal failed: the old certificate still serves',
      { ...facts({ certificate: cert, failures: 4, lastFailureAt: now, retryAfterMs: 8 * MIN }), lastError: error },
      { state: 'failed', error, nextAttempt: now + 8 * MIN, failures: 4, notAfter: cert.notAfter },
    ],
    [
      'renewals failed until the old certificate expired',
      { ...facts({ certificate: expired, failures: 9, lastFailureAt: now, retryAfterMs: 6 * HOUR }), lastError: error },
      { state: 'failed', error, nextAttempt: now + 6 * HOUR, failures: 9, notAfter: null },
    ],
  ];
  for (const [what, input, expected] of rows) assert.deepEqual(certificateState(input, now), expected, what);
});
