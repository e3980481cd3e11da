import assert from 'node:assert/strict';
import test from 'node:test';
import { LineDecoder, asReply, asRequest, encodeLine, MAX_LINE_BYTES } from '../../src/edge-process/protocol.ts';

test('lines split across chunks and several in one chunk decode in order', () => {
  const decoder = new LineDecoder();
  const bytes = Buffer.from(encodeLine({ id: 1, type: 'hello' }) + encodeLine({ id: 2, type: 'purge', hosts: ['a'], path: null }));
  const out = [];
  for (let i = 0; i < bytes.length; i += 3) out.push(...decoder.push(bytes.subarray(i, i + 3)));
  assert.deepEqual(out, [
    { ok: true, value: { id: 1, type: 'hello' } },
    { ok: true, value: { id: 2, type: 'purge', hosts: ['a'], path: null } },
  ]);
});

test('a line that is not JSON is reported and skipped; the next one still decodes', () => {
  const decoder = new LineDecoder();
  assert.deepEqual(decoder.push(Buffer.from('{"id":1,\n\n{"id":2,"type":"hello"}\n')), [
    { ok: false, reason: 'malformed' },
    { ok: true, value: { id: 2, type: 'hello' } },
  ]);
  assert.equal(decoder.broken, false);
});

test('a line over the bound breaks the stream for good, without keeping its bytes', () => {
  const decoder = new LineDecoder(16);
  assert.deepEqual(decoder.push(Buffer.from('{"a":1}\n')), [{ ok: true, value: { a: 1 } }]);
  // No newline yet: over the bound all the same.
  assert.deepEqual(decoder.push(Buffer.from('x'.repeat(17))), [{ ok: false, reason: 'oversized' }]);
  assert.equal(decoder.broken, true);
  assert.deepEqual(decoder.push(Buffer.from('{"a":2}\n')), []);
  // Over the bound across chunks, newline included.
  const other = new LineDecoder(16);
  assert.deepEqual(other.push(Buffer.from('0123456789')), []);
  assert.deepEqual(other.push(Buffer.from('0123456789\n{}\n')), [{ ok: false, reason: 'oversized' }]);
  // Exactly at the bound is fine.
  assert.deepEqual(new LineDecoder(7).push(Buffer.from('{"a":1}\n')), [{ ok: true, value: { a: 1 } }]);
});

test('encodeLine refuses a message over the bound', () => {
  assert.throws(() => encodeLine({ event: 'log', line: 'x'.repeat(MAX_LINE_BYTES) }), /over/);
});

test('asRequest takes only known request types with an integer id; asReply only responses and events', () => {
  assert.deepEqual(asRequest({ id: 3, type: 'stop', graceMs: 1 }), { id: 3, type: 'stop', graceMs: 1 });
  for (const value of [null, 1, 'hello', [], {}, { id: '1', type: 'hello' }, { id: 1.5, type: 'hello' }, { id: 1, type: 'exec' }, { id: 1 }]) assert.equal(asRequest(value), null, JSON.stringify(value));
  assert.deepEqual(asReply({ id: 1, ok: true }), { id: 1, ok: true });
  assert.deepEqual(asReply({ event: 'log', line: 'x' }), { event: 'log', line: 'x' });
  for (const value of [null, {}, { id: 1 }, { event: 'other' }, { ok: true }]) assert.equal(asReply(value), null, JSON.stringify(value));
});
