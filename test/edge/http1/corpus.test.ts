// The refusal corpus: every case is refused with its expected status, with
// the bytes arriving at once and one at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveHttp1Limits } from '../../../src/edge/http1/index.ts';
import { CORPUS } from './corpus.ts';
import { bytes, parseByteByByte, parseWhole, type Outcome } from './harness.ts';

function describe(o: Outcome): string {
  return o.kind === 'refused' ? `${o.status} ${o.code}` : o.kind;
}

test('the corpus has at least 60 cases with unique names', () => {
  assert.ok(CORPUS.length >= 60, `only ${CORPUS.length} cases`);
  assert.equal(new Set(CORPUS.map((c) => c.name)).size, CORPUS.length);
});

for (const c of CORPUS) {
  test(`refuses: ${c.name}`, () => {
    const limits = resolveHttp1Limits(c.limits);
    const raw = bytes(c.raw);
    const whole = parseWhole(raw, limits);
    assert.equal(whole.kind, 'refused', `${c.name}: got ${describe(whole)} (${c.note})`);
    assert.equal(whole.kind === 'refused' && whole.status, c.expectStatus, `${c.name}: got ${describe(whole)}`);
    const split = parseByteByByte(raw, limits);
    assert.equal(split.kind === 'refused' && split.status, c.expectStatus, `${c.name} byte by byte: got ${describe(split)}`);
  });
}
