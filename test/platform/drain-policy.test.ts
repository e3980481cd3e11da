import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.ts';
import { drainRetryDelay, parseDrainUrl, redactDrainUrl, retryableStatus } from '../../src/platform/drain-policy.ts';
import { DrainQueue } from '../../src/platform/drain-queue.ts';

function refused(url: unknown, secret?: string): void {
  assert.throws(
    () => parseDrainUrl(url),
    (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_DRAIN_URL' && (secret === undefined || !err.message.includes(secret)),
    String(url),
  );
}

test('drain URLs: syslog over TCP or TLS with default ports and a facility, or https', () => {
  assert.deepEqual(
    (({ kind, host, port, facility }) => ({ kind, host, port, facility }))(parseDrainUrl('syslog+tls://logs.example.com')),
    { kind: 'syslog+tls', host: 'logs.example.com', port: 6514, facility: 1 },
  );
  assert.equal(parseDrainUrl('syslog://10.0.0.5:1514').port, 1514);
  assert.equal(parseDrainUrl('syslog://10.0.0.5').port, 514);
  assert.equal(parseDrainUrl('syslog://[::1]:514/').host, '::1');
  assert.equal(parseDrainUrl('syslog://h:514?facility=local0').facility, 16);
  const https = parseDrainUrl('https://user:tok@logs.example.com/v1/ingest?key=abc');
  assert.equal(https.kind, 'https');
  assert.equal(https.port, 443);
  assert.equal(https.url.password, 'tok');
});

test('drain URLs berth cannot use are refused, never repeating the URL', () => {
  for (const url of [undefined, '', 'not a url', 'http://logs.example.com/x', 'ftp://h', 'syslog://', 'syslog://h:0', 'syslog://h:99999', 'syslog://u:p@h:514', 'syslog://h:514/path', 'syslog://h:514?facility=kern', 'syslog://h:514?x=1', 'https://h/x#frag', `https://h/${'x'.repeat(3000)}`]) refused(url);
  refused('http://user:sup3rsecret@h/x', 'sup3rsecret');
  refused('https://h/sup3rsecret token', 'sup3rsecret');
});

test('listings hide user info, query values and long path segments', () => {
  assert.equal(redactDrainUrl('syslog+tls://logs.example.com:6514'), 'syslog+tls://logs.example.com:6514');
  assert.equal(redactDrainUrl('https://user:secret@logs.example.com/ingest'), 'https://***@logs.example.com/ingest');
  assert.equal(redactDrainUrl('https://logs.example.com/v1/a1b2c3d4e5f6a7b8c9d0?token=s3cret&app=x'), 'https://logs.example.com/v1/a1b2…?token=***&app=***');
  assert.equal(redactDrainUrl('https://127.0.0.1:8443/'), 'https://127.0.0.1:8443/');
  assert.ok(!redactDrainUrl('https://u:hunter2@h/hunter2hunter2hunter2?k=hunter2').includes('hunter2'));
});

test('retries wait 1 s doubling to 60 s; 408, 429 and 5xx are worth another try', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => drainRetryDelay(n)), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.equal(drainRetryDelay(0), 1000);
  assert.deepEqual([200, 400, 401, 404, 408, 429, 500, 503].map(retryableStatus), [false, false, false, false, true, true, true, true]);
});

test('a drain queue is bounded by bytes, counts what it drops, and puts one marker where the gap was', () => {
  const item = (name: string, bytes = 10) => ({ name, bytes });
  const queue = new DrainQueue(30, (dropped) => item(`marker ${dropped}`, 5));
  assert.equal(queue.push(item('a')), true);
  assert.equal(queue.push(item('b')), true);
  assert.equal(queue.push(item('c')), true);
  assert.equal(queue.push(item('d')), false);
  assert.equal(queue.push(item('e')), false);
  assert.equal(queue.dropped, 2);
  assert.equal(queue.shift()!.name, 'a');
  // Room for 10 bytes: not enough for the marker and the line together, so this one goes too.
  assert.equal(queue.push(item('f')), false);
  assert.equal(queue.shift()!.name, 'b');
  assert.equal(queue.push(item('g')), true);
  assert.deepEqual(queue.take(10, 1000).map((i) => i.name), ['c', 'marker 3', 'g']);
  assert.equal(queue.dropped, 3);
  assert.equal(queue.length, 0);
  queue.push(item('h'));
  queue.push(item('i'));
  assert.deepEqual(queue.take(10, 15).map((i) => i.name), ['h'], 'at most the bytes given, but at least one');
  queue.lost(4);
  queue.clear();
  assert.equal(queue.dropped, 8);
  assert.equal(queue.bytes, 0);
});
