import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenAddress, parseScale, parseUpstreamAddress } from '../../src/cli/address.ts';
import { parseDuration, parseSize } from '../../src/units.ts';

test('listen addresses', () => {
  assert.deepEqual(parseListenAddress(':8080'), { host: undefined, port: 8080 });
  assert.deepEqual(parseListenAddress('8080'), { host: undefined, port: 8080 });
  assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListenAddress('localhost:80'), { host: 'localhost', port: 80 });
  assert.deepEqual(parseListenAddress('[::1]:8443'), { host: '::1', port: 8443 });
});

for (const bad of ['', ':', 'host:', ':65536', ':-1', ':80x', 'a b:80', '::1:80', '[::1]80', 'exa_mple:80', ':1e3']) {
  test(`"${bad}" is not a listen address`, () => {
    assert.throws(() => parseListenAddress(bad), (err: Error & { code?: string }) => err.code === 'BERTH_E_ADDRESS');
  });
}

test('upstream addresses need a host and a non-zero port', () => {
  assert.deepEqual(parseUpstreamAddress('127.0.0.1:9001'), { host: '127.0.0.1', port: 9001 });
  assert.throws(() => parseUpstreamAddress(':9001'), /not a valid address/);
  assert.throws(() => parseUpstreamAddress('127.0.0.1:0'), /not a valid address/);
});

test('scales', () => {
  assert.deepEqual(parseScale(['web=2', 'worker=1,clock=0']), { web: 2, worker: 1, clock: 0 });
  assert.deepEqual(parseScale([]), {});
  for (const bad of ['web', 'web=', 'web=-1', 'web=65', 'we b=1', '=2']) assert.throws(() => parseScale([bad]), /not a valid scale/);
});

test('durations', () => {
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('3'), 3_000);
  assert.equal(parseDuration('1.5s'), 1_500);
  assert.throws(() => parseDuration('soon'), /not a duration/);
});

test('sizes', () => {
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize('16k'), 16 * 1024);
  assert.equal(parseSize('10M'), 10 * 1024 * 1024);
  assert.equal(parseSize('1g'), 1024 ** 3);
  assert.equal(parseSize('1.5k'), 1536);
  assert.equal(parseSize(42), 42);
  assert.equal(parseSize('1t'), 1024 ** 4);
  for (const spelled of ['512Mi', '512MiB', '512mb', '512m']) assert.equal(parseSize(spelled), 512 * 1024 * 1024, spelled);
  for (const bad of ['', 'k', '-1', '1p', '1 2', 'lots', '1ki b', '1bi']) assert.throws(() => parseSize(bad), /not a size/);
  assert.throws(() => parseSize(-3), /not a size/);
});
