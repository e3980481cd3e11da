// Drains against real receivers on 127.0.0.1: syslog over TCP and TLS
// (octet-counted RFC 5424), HTTPS (batched JSON lines), with certificates
// from berth's local CA; and LogDrains following real app logs.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/berth-process.ts';
import { startHttpsReceiver, startSyslogReceiver } from '../helpers/log-receivers.ts';
import { LocalCa } from '../../src/tls/index.ts';
import { accessLogLine, createAccessLog } from '../../src/platform/access-log.ts';
import { AppLog } from '../../src/platform/app-log.ts';
import { parseDrainUrl, type DrainLine } from '../../src/platform/drain-policy.ts';
import { drainJson, HttpsDrain } from '../../src/platform/https-drain.ts';
import { LogDrains } from '../../src/platform/log-drains.ts';
import { SyslogDrain } from '../../src/platform/syslog-drain.ts';
import type { LogDrainRecord } from '../../src/platform/records.ts';

const FAST = { firstRetryMs: 50, maxRetryMs: 200, batchDelayMs: 20, timeoutMs: 2000, closeMs: 1000 };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-drains-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A local CA and its leaf for 127.0.0.1. */
async function localTls(t: TestContext): Promise<{ ca: string; cert: string; key: string }> {
  const ca = await LocalCa.open({ stateDir: await tempDir(t) });
  const leaf = await ca.certificateFor('127.0.0.1');
  return { ca: ca.rootPem, cert: leaf.certPem, key: leaf.keyPem };
}

function line(text: string, extra: Partial<DrainLine> = {}): DrainLine {
  return { app: 'shop', kind: 'output', at: Date.UTC(2026, 0, 2, 3, 4, 5), source: 'web.1', text, ...extra };
}

test('syslog over TCP: octet-counted RFC 5424 messages, the app as APP-NAME, the source as PROCID, stderr as err', async (t) => {
  const receiver = await startSyslogReceiver();
  t.after(() => receiver.close());
  const drain = new SyslogDrain({ app: 'shop', target: parseDrainUrl(`syslog://127.0.0.1:${receiver.port}?facility=local0`), hostname: 'box', limits: FAST });
  t.after(() => drain.close(0));
  drain.send(line('listening on 5000', { stream: 'out' }));
  drain.send(line('Error: boom', { stream: 'err' }));
  drain.send(line('multi word line with ünïcode', { source: 'build' }));
  const access = accessLogLine({ site: 'shop', time: Date.now(), method: 'GET', target: '/', host: 'shop.localhost', status: 200, bytes: 10, durationMs: 1, upstream: 'web.1', requestId: 'r1', client: '127.0.0.1', protocol: 'HTTP/1.1', cache: null, referer: null, userAgent: null });
  drain.send({ app: 'shop', kind: 'access', at: access.at, source: access.source, text: access.text });
  await eventually('four messages', async () => receiver.messages.length === 4, 5000);
  const [out, err, build, request] = receiver.messages;
  assert.deepEqual(out, { pri: 16 * 8 + 6, version: 1, timestamp: '2026-01-02T03:04:05.000Z', hostname: 'box', appName: 'shop', procId: 'web.1', msgId: '-', structuredData: '-', message: 'listening on 5000' });
  assert.equal(err!.pri, 16 * 8 + 3);
  assert.equal(build!.procId, 'build');
  assert.equal(build!.message, 'multi word line with ünïcode');
  assert.equal(request!.procId, 'access');
  assert.equal(JSON.parse(request!.message).requestId, 'r1');
  await eventually('counted as sent', async () => drain.status().sent === 4, 2000);
  assert.equal(drain.status().state, 'connected');
  assert.equal(receiver.connections, 1, 'one connection for every line');
});

test('syslog: lines wait while the receiver is down, the drain reconnects, and what did not fit is counted and marked', async (t) => {
  const first = await startSyslogReceiver();
  const port = first.port;
  await first.close();
  const reports: string[] = [];
  const drain = new SyslogDrain({ app: 'shop', target: parseDrainUrl(`syslog://127.0.0.1:${port}`), hostname: 'box', limits: { ...FAST, maxQueueBytes: 1000 }, report: (m) => reports.push(m) });
  t.after(() => drain.close(0));
  for (let i = 0; i < 30; i++) drain.send(line(`line ${i}`));
  await eventually('the drain failed to connect', async () => drain.status().state === 'retrying', 2000);
  assert.match(drain.status().lastError ?? '', /ECONNREFUSED/);
  assert.ok(drain.status().dropped > 0, 'the queue is bounded');
  assert.ok(reports.some((r) => r.startsWith('cannot deliver: ')));
  assert.ok(reports.some((r) => r.startsWith('dropping lines')));

  const receiver = await startSyslogReceiver(undefined, port);
  t.after(() => receiver.close());
  await eventually('the queued lines arrive once the drain connects again', async () => drain.status().state === 'connected' && drain.status().sent > 0, 5000);
  drain.send(line('after the gap'));
  await eventually('the next line arrives', async () => receiver.messages.some((m) => m.message === 'after the gap'), 5000);
  const texts = receiver.messages.map((m) => m.message);
  assert.equal(texts[0], 'line 0', 'in order, from the first');
  const marker = receiver.messages.at(-2)!;
  assert.equal(marker.procId, 'berth', texts.join('\n'));
  assert.equal(marker.message, `${drain.status().dropped} lines dropped by berth: the drain could not keep up`);
  assert.equal(marker.pri, 8 + 4);
  assert.ok(reports.includes('delivering again'));
  // Every line was sent or dropped; the marker is one more message sent.
  assert.equal(drain.status().sent + drain.status().dropped, 31 + 1);
});

test('syslog over TLS: the receiver is trusted through a CA (a test CA here; NODE_EXTRA_CA_CERTS for the daemon), and an untrusted one is refused', async (t) => {
  const tls = await localTls(t);
  const receiver = await startSyslogReceiver(tls);
  t.after(() => receiver.close());
  const target = parseDrainUrl(`syslog+tls://127.0.0.1:${receiver.port}`);
  const trusted = new SyslogDrain({ app: 'shop', target, hostname: 'box', limits: FAST, tls: { ca: tls.ca } });
  t.after(() => trusted.close(0));
  trusted.send(line('over tls'));
  await eventually('the message arrives', async () => receiver.messages.some((m) => m.message === 'over tls'), 5000);

  const untrusted = new SyslogDrain({ app: 'shop', target, hostname: 'box', limits: FAST });
  t.after(() => untrusted.close(0));
  untrusted.send(line('never'));
  await eventually('the handshake fails', async () => untrusted.status().state === 'retrying', 5000);
  assert.match(untrusted.status().lastError ?? '', /certificate/i);
  assert.ok(!receiver.messages.some((m) => m.message === 'never'));
});

test('https: lines are POSTed in batches of JSON lines, with basic auth from the URL; 5xx is retried, 4xx dropped', async (t) => {
  const tls = await localTls(t);
  const receiver = await startHttpsReceiver(tls);
  t.after(() => receiver.close());
  const url = receiver.url.replace('https://', 'https://drain:s3cret@');
  const reports: string[] = [];
  const drain = new HttpsDrain({ app: 'shop', target: parseDrainUrl(url), limits: { ...FAST, batchLines: 3 }, tls: { ca: tls.ca }, report: (m) => reports.push(m) });
  t.after(() => drain.close(0));
  for (let i = 0; i < 7; i++) drain.send(line(`line ${i}`, i === 6 ? { stream: 'err' } : {}));
  await eventually('seven lines', async () => receiver.lines.length === 7, 5000);
  assert.deepEqual(receiver.requests.map((r) => r.lines), [3, 3, 1]);
  assert.equal(receiver.requests[0]!.headers.authorization, `Basic ${Buffer.from('drain:s3cret').toString('base64')}`);
  assert.equal(receiver.requests[0]!.headers['content-type'], 'application/x-ndjson');
  assert.deepEqual(receiver.lines[0], { app: 'shop', source: 'web.1', time: '2026-01-02T03:04:05.000Z', text: 'line 0' });
  assert.equal(receiver.lines[6].stream, 'err');
  assert.equal(drain.status().sent, 7);

  receiver.status = 503;
  drain.send(line('retried'));
  await eventually('a failed attempt', async () => drain.status().lastError === 'the receiver answered 503', 5000);
  receiver.status = 200;
  await eventually('delivered on a later attempt', async () => receiver.lines.some((l) => l.text === 'retried'), 5000);
  assert.ok(reports.includes('delivering again'));

  receiver.status = 400;
  drain.send(line('refused'));
  await eventually('dropped without retrying', async () => drain.status().dropped === 1, 5000);
  receiver.status = 200;
  drain.send(line('after'));
  await eventually('the next batch goes', async () => receiver.lines.some((l) => l.text === 'after'), 5000);
  assert.ok(!receiver.lines.some((l) => l.text === 'refused'));
  assert.ok(receiver.lines.some((l) => /^1 line dropped by berth/.test(l.text)), 'the gap is marked');
});

test('https: closing sends what is queued at once, without waiting for a fuller batch', async (t) => {
  const tls = await localTls(t);
  const receiver = await startHttpsReceiver(tls);
  t.after(() => receiver.close());
  const drain = new HttpsDrain({ app: 'shop', target: parseDrainUrl(receiver.url), limits: { ...FAST, batchDelayMs: 60_000 }, tls: { ca: tls.ca } });
  drain.send(line('last words'));
  await drain.close(2000);
  assert.deepEqual(receiver.lines.map((l) => l.text), ['last words']);
  assert.equal(drain.status().state, 'closed');
  drain.send(line('ignored'));
  assert.equal(drain.status().sent, 1);
});

test('drainJson: output lines and access entries as flat JSON objects', () => {
  const access = accessLogLine({ site: 'shop', time: Date.UTC(2026, 0, 2), method: 'GET', target: '/x', host: 'h', status: 200, bytes: 1, durationMs: 1, upstream: null, requestId: 'r', client: '::1', protocol: 'HTTP/2', cache: 'hit', referer: null, userAgent: null });
  const json = JSON.parse(drainJson({ app: 'shop', kind: 'access', at: access.at, source: access.source, text: access.text }));
  assert.equal(json.app, 'shop');
  assert.equal(json.source, 'access');
  assert.equal(json.path, '/x');
  assert.equal(json.cache, 'hit');
  assert.deepEqual(JSON.parse(drainJson(line('a "quoted" line', { source: 'berth' }))), { app: 'shop', source: 'berth', time: '2026-01-02T03:04:05.000Z', text: 'a "quoted" line' });
});

test('LogDrains: stored drains follow an app\'s output and access logs once they exist, and stop when removed or the app goes', async (t) => {
  const dir = await tempDir(t);
  const receiver = await startSyslogReceiver();
  t.after(() => receiver.close());
  const rows: LogDrainRecord[] = [];
  const store = {
    addDrain: (app: string, url: string) => {
      const row = { id: rows.length + 1, app, url, createdAt: new Date().toISOString() };
      rows.push(row);
      return row;
    },
    listDrains: (app?: string) => rows.filter((row) => app === undefined || row.app === app),
    removeDrain: (app: string, id: number) => rows.splice(rows.findIndex((row) => row.app === app && row.id === id), 1)[0]!,
  };
  const log: string[] = [];
  const drains = new LogDrains({ store, log: (l) => log.push(l), hostname: 'box', limits: FAST });
  t.after(() => drains.close());
  const added = drains.add('shop', `syslog://127.0.0.1:${receiver.port}`);
  assert.equal(added.id, 1);
  assert.equal(added.kind, 'syslog');

  const output = new AppLog({ dir: join(dir, 'shop') });
  const access = createAccessLog({ dir: join(dir, 'shop', 'access') });
  t.after(() => output.close());
  t.after(() => access.close());
  output.add('web.1', 'before attach: not followed');
  drains.attach('shop', { output, access });
  output.add('web.1', 'hello', undefined, 'err');
  const record = accessLogLine({ site: 'shop', time: Date.now(), method: 'GET', target: '/p', host: 'h', status: 200, bytes: 1, durationMs: 1, upstream: 'web.1', requestId: 'rid', client: '::1', protocol: 'HTTP/1.1', cache: null, referer: null, userAgent: null });
  access.add(record.source, record.text, record.at);
  await eventually('both lines arrive', async () => receiver.messages.length >= 2, 5000);
  assert.deepEqual(receiver.messages.map((m) => [m.procId, m.pri & 7]), [['web.1', 3], ['access', 6]]);
  const [view] = drains.list('shop');
  assert.equal(view!.url, `syslog://127.0.0.1:${receiver.port}`);
  assert.equal(view!.sent, 2);

  await drains.remove('shop', 1);
  output.add('web.1', 'after remove');
  assert.deepEqual(drains.list('shop'), []);
  drains.add('shop', `syslog://127.0.0.1:${receiver.port}`);
  output.add('web.1', 'second drain');
  await eventually('the new drain delivers', async () => receiver.messages.some((m) => m.message === 'second drain'), 5000);
  assert.ok(!receiver.messages.some((m) => m.message === 'after remove'));
  await drains.detach('shop');
  output.add('web.1', 'after detach');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(!receiver.messages.some((m) => m.message === 'after detach'));
  assert.deepEqual(log, []);
});
