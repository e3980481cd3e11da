import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FACILITIES, formatSyslog, headerField, MAX_SYSLOG_BYTES, octetFrame, SEVERITY } from '../../src/platform/syslog.ts';
import { OctetCountingParser, parseRfc5424 } from '../helpers/log-receivers.ts';

const T = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

test('an RFC 5424 message: PRI from facility and severity, version 1, ISO time, nil MSGID and structured data', () => {
  const message = formatSyslog({ facility: FACILITIES.user!, severity: SEVERITY.info, time: T, hostname: 'box', appName: 'shop', procId: 'web.1', message: 'GET / 200' });
  assert.equal(message, '<14>1 2026-01-02T03:04:05.678Z box shop web.1 - - GET / 200');
  const err = formatSyslog({ facility: FACILITIES.local0!, severity: SEVERITY.err, time: T, hostname: 'box', appName: 'shop', procId: 'web.1', message: 'boom' });
  assert.ok(err.startsWith('<131>1 '), err);
  assert.deepEqual(parseRfc5424(err), { pri: 131, version: 1, timestamp: '2026-01-02T03:04:05.678Z', hostname: 'box', appName: 'shop', procId: 'web.1', msgId: '-', structuredData: '-', message: 'boom' });
});

test('header fields are printable ASCII without spaces, bounded, "-" when empty', () => {
  assert.equal(headerField('my host', 255), 'my_host');
  assert.equal(headerField('ünï', 48), '_n_');
  assert.equal(headerField('', 48), '-');
  assert.equal(headerField('a'.repeat(60), 48), 'a'.repeat(48));
  const message = formatSyslog({ facility: 1, severity: 6, time: T, hostname: '', appName: 'x'.repeat(60), procId: 'build', message: '' });
  assert.equal(message, `<14>1 2026-01-02T03:04:05.678Z - ${'x'.repeat(48)} build - -`);
});

test('a long message is cut to 8192 bytes on a character boundary', () => {
  const message = formatSyslog({ facility: 1, severity: 6, time: T, hostname: 'box', appName: 'shop', procId: 'web.1', message: 'é'.repeat(10_000) });
  assert.ok(Buffer.byteLength(message) <= MAX_SYSLOG_BYTES);
  assert.ok(Buffer.byteLength(message) >= MAX_SYSLOG_BYTES - 1);
  assert.ok(!message.includes('\ufffd'));
});

test('octet counting frames a message by its length in bytes, newlines and all', () => {
  assert.equal(octetFrame('<14>1 - - - - - - hé').toString('utf8'), '21 <14>1 - - - - - - hé');
  const parser = new OctetCountingParser();
  const stream = Buffer.concat([octetFrame('one'), octetFrame('two\nlines'), octetFrame('ü')]);
  // Fed in pieces, split anywhere, the frames come back whole.
  const got: string[] = [];
  for (let i = 0; i < stream.length; i += 3) got.push(...parser.push(stream.subarray(i, i + 3)));
  assert.deepEqual(got, ['one', 'two\nlines', 'ü']);
});
