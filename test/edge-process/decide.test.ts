import assert from 'node:assert/strict';
import test from 'node:test';
import { decideEdgeStart, type EdgeSettings, type Hello } from '../../src/edge-process/index.ts';

const base: EdgeSettings = { http: { host: '127.0.0.1', port: 8080 }, https: { host: undefined, port: 8443 }, workers: 2, limits: { keepAliveTimeoutMs: 5_000 }, accessRecords: true };

function hello(over: Partial<Hello>): Hello {
  return { pid: 10, startTime: 20, code: 'a', settings: base, listening: true, address: { address: '127.0.0.1', family: 'IPv4', port: 8080 }, httpsAddress: null, versions: { routes: 1, tls: 0, challenges: 0 }, leaving: false, ...over };
}

test('no edge running: spawn', () => {
  assert.equal(decideEdgeStart(null, { code: 'a', settings: base }), 'spawn');
});

test('every combination of leaving, configured, listening, code, addresses and other settings', () => {
  const otherAddresses: EdgeSettings = { ...base, https: null };
  const otherSettings: EdgeSettings = { ...base, workers: 1 };
  let cases = 0;
  for (const leaving of [false, true])
    for (const configured of [false, true])
      for (const listening of [false, true])
        for (const sameCode of [false, true])
          for (const addresses of ['same', 'other'] as const)
            for (const others of ['same', 'other'] as const) {
              const running = hello({ leaving, listening, settings: configured ? base : null });
              const wanted = { code: sameCode ? 'a' : 'b', settings: addresses === 'other' ? otherAddresses : others === 'other' ? otherSettings : base };
              // The rule, said plainly.
              const expected = leaving || !configured ? 'replace' : addresses === 'other' ? 'replace' : sameCode && others === 'same' ? 'adopt' : listening ? 'hand-over' : 'replace';
              assert.equal(decideEdgeStart(running, wanted), expected, JSON.stringify({ leaving, configured, listening, sameCode, addresses, others }));
              cases++;
            }
  assert.equal(cases, 64);
});

test('addresses compare as asked: port 0 is the same edge wherever it got a port; no host and "" are the same', () => {
  const any: EdgeSettings = { ...base, http: { host: undefined, port: 0 }, https: null };
  assert.equal(decideEdgeStart(hello({ settings: any, address: { address: '::', family: 'IPv6', port: 41234 } }), { code: 'a', settings: { ...any, http: { host: '', port: 0 } } }), 'adopt');
  assert.equal(decideEdgeStart(hello({ settings: any }), { code: 'a', settings: { ...any, http: { host: undefined, port: 41234 } } }), 'replace');
});

test('limits compare by value: key order and absent keys do not matter', () => {
  const a: EdgeSettings = { ...base, limits: { keepAliveTimeoutMs: 5_000, maxConnections: 10 } };
  const b: EdgeSettings = { ...base, limits: { maxConnections: 10, keepAliveTimeoutMs: 5_000, headerTimeoutMs: undefined } };
  assert.equal(decideEdgeStart(hello({ settings: a }), { code: 'a', settings: b }), 'adopt');
  assert.equal(decideEdgeStart(hello({ settings: a }), { code: 'a', settings: { ...b, limits: { maxConnections: 11 } } }), 'hand-over');
  assert.equal(decideEdgeStart(hello({ settings: a }), { code: 'a', settings: { ...a, accessRecords: false } }), 'hand-over');
});
