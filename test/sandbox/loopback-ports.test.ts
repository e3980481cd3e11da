// Which add-on ports the daemon relays from the service address to the
// host's loopback: those the apps' URLs name on 127.0.0.1, localhost or
// [::1], never those of berth's own servers, which listen on the service
// address themselves (a relay holding their port would keep a restarted
// server from binding it, and would cut its connections at every restart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loopbackPorts } from '../../src/sandbox/loopback-forwarder.ts';

const URLS = [
  'postgres://shop:pw@127.0.0.1:5432/shop',
  'redis://berth-shop:pw@127.0.0.1:6379/0',
  'postgres://shop:pw@localhost:5433/shop?sslmode=require',
  'redis://[::1]:6380',
  'postgres://shop:pw@db.example.com:5434/shop',
  'https://127.0.0.1:99999/',
  'not a url 127.0.0.1:7000',
  'sqlite:////var/lib/berth/data/shop/db.sqlite3',
];

test('the loopback ports the apps\' add-on URLs name, once each, in order', () => {
  assert.deepEqual(loopbackPorts([...URLS, URLS[0]!]), [5432, 5433, 6379, 6380]);
});

test('the ports of servers that listen on the service address themselves are never relayed', () => {
  assert.deepEqual(loopbackPorts(URLS, [5432, 6379]), [5433, 6380]);
  assert.deepEqual(loopbackPorts(URLS, new Set([5432, 5433, 6379, 6380])), []);
  assert.deepEqual(loopbackPorts(URLS, [1234]), [5432, 5433, 6379, 6380]);
});
