// Differential test: our request parser against llhttp (node:http in strict
// mode, requireHostHeader) on generated requests. The property: whenever we
// accept a request, llhttp accepts it too and parses the same method,
// target, fields and body. We may refuse what llhttp accepts, but only for
// the documented reasons in STRICTER_THAN_LLHTTP; and where we wait for more
// bytes llhttp must not have seen a complete request either.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_HTTP1_LIMITS, type Http1ErrorCode } from '../../../src/edge/http1/index.ts';
import { CORPUS } from './corpus.ts';
import { bytes, parseWhole, type Outcome } from './harness.ts';
import { LlhttpOracle, type OracleOutcome, type OracleRequest } from './llhttp-oracle.ts';
import { mutated, request } from './request-grammar.ts';

/**
 * Where we refuse requests llhttp accepts, on purpose. Any other refusal of
 * a request llhttp accepts fails the test.
 */
export const STRICTER_THAN_LLHTTP: Partial<Record<Http1ErrorCode, string>> = {
  HTTP_BAD_REQUEST_LINE:
    'request-line separators: llhttp accepts several spaces between method and target, a line without a ' +
    'version ("GET /x" read as the target "/xHTTP/1.1" when the SP is missing) and a bare LF before the request line',
  HTTP_BAD_VERSION: 'two spaces before the version',
  HTTP_VERSION_UNSUPPORTED: 'only HTTP/1.0 and 1.1 (llhttp also takes 0.9 and 2.0 request lines)',
  HTTP_BAD_TARGET:
    'request-target forms: "#" fragments, "*" on methods other than OPTIONS, absolute-form with a scheme other ' +
    'than http(s), with userinfo or with an invalid authority (llhttp accepts any URL it can tokenise)',
  HTTP_CONNECT_UNSUPPORTED: 'CONNECT: the edge is not a forward proxy',
  HTTP_BAD_HOST: 'Host must be host[:port] (llhttp does not look at the value; node only checks presence)',
  HTTP_DUP_HOST: 'a repeated Host (node keeps the first)',
  HTTP_TE_UNSUPPORTED: 'codings before chunked, e.g. "gzip, chunked" (llhttp frames it as chunked, nobody decodes gzip)',
  HTTP_DUP_TE: 'two Transfer-Encoding fields, even when the last says chunked (llhttp frames by the last one)',
  HTTP_BAD_TE: 'Transfer-Encoding with empty list elements (", chunked"), which RFC 9110 §5.6.1 tolerates in lists',
  HTTP_TE_ON_HTTP10: 'Transfer-Encoding on HTTP/1.0 (RFC 9112 §6.1: faulty framing)',
  HTTP_BAD_CONNECTION: 'Connection that is not a comma list of tokens ("close" quoted, tokens separated by spaces)',
  HTTP_EXPECTATION_FAILED: 'Expect other than exactly 100-continue (node finds "100-continue" as a word anywhere in the value)',
  HTTP_BAD_CHUNK_EXT: 'chunk extensions without a name (";=b"); llhttp checks the characters but lets the name be empty',
  HTTP_CHUNK_LINE_TOO_LONG: 'a chunk-size line over maxChunkLineBytes (4 KiB); node only caps all extensions of a body at 16 KiB',
  HTTP_CHUNK_SIZE_OVERFLOW: 'chunk sizes with more than 16 hex digits, even when the extra digits are leading zeros',
};

const LIMITS = DEFAULT_HTTP1_LIMITS;
// HTTP1_DIFF_RUNS=50000 for a deeper local run; the default keeps the file near 5 s.
const deepRuns = Number(process.env.HTTP1_DIFF_RUNS ?? 0);
const numRunsGrammar = deepRuns > 0 ? deepRuns : 2000;
const numRunsMutated = deepRuns > 0 ? deepRuns : 1000;
const timeLimitMs = deepRuns > 0 ? 3_600_000 : 20_000;

// ---- comparison ------------------------------------------------------------

interface Tally {
  bothAccepted: number;
  bothRefused: number;
  bothIncomplete: number;
  /** Pipelined follow-ups both parsers found at the same place. */
  sameNext: number;
  stricter: Map<string, number>;
}

function newTally(): Tally {
  return { bothAccepted: 0, bothRefused: 0, bothIncomplete: 0, sameNext: 0, stricter: new Map() };
}

// Sent after every generated request: if we and llhttp end the first message
// at different bytes, the second request differs, which is what smuggling is.
// Node answers some requests llhttp parsed (missing Host, bad Expect) with
// an error and goes on with the next one, so the marker field tells whether
// llhttp's first request is really ours or already the follow-up.
const NEXT = 'GET /next HTTP/1.1\r\nHost: app.example\r\nX-Berth-Next: 1\r\n\r\n';
const isNext = (r: OracleRequest): boolean => r.rawHeaders.includes('X-Berth-Next');

function show(raw: Buffer, ours: Outcome, theirs: OracleOutcome): string {
  const cut = (s: string): string => (s.length > 400 ? `${s.slice(0, 400)}...` : s);
  const theirsText = theirs.requests.length === 0
    ? `no request (${theirs.clientError ?? 'closed'})`
    : cut(JSON.stringify(theirs.requests.map((r) => ({
      method: r.method, url: r.url, headers: r.rawHeaders, body: r.body.toString('latin1'), complete: r.complete,
    }))));
  return `\nrequest: ${cut(JSON.stringify(raw.toString('latin1')))}` +
    `\nours:    ${ours.kind === 'refused' ? `${ours.status} ${ours.code}` : ours.kind}` +
    `\nllhttp:  ${theirsText}${theirs.clientError === null ? '' : ` then ${theirs.clientError}`}`;
}

/**
 * llhttp hands over an absolute-form target whole; we reduce it to
 * origin-form (its authority replaces Host, RFC 9112 §3.2.2).
 */
function originForm(url: string, method: string): string {
  const authority = /^https?:\/\/[^/?]*/i.exec(url);
  if (authority === null) return url;
  const rest = url.slice(authority[0].length);
  return rest === '' ? (method === 'OPTIONS' ? '*' : '/') : rest.startsWith('?') ? `/${rest}` : rest;
}

function assertSameMessage(ours: Extract<Outcome, { kind: 'accepted' }>, theirs: OracleRequest, context: string): void {
  const theirHeaders = theirs.rawHeaders.map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v));
  assert.deepEqual(
    { method: ours.head.method, target: ours.head.target, headers: ours.head.headers, body: ours.body.toString('latin1') },
    { method: theirs.method, target: originForm(theirs.url, theirs.method), headers: theirHeaders, body: theirs.body.toString('latin1') },
    `we parse differently from llhttp${context}`,
  );
}

function compare(raw: Buffer, theirs: OracleOutcome, tally: Tally): void {
  const ours = parseWhole(raw, LIMITS);
  const context = show(raw, ours, theirs);
  assert.equal(theirs.timedOut, false, `the oracle did not answer${context}`);
  const first = theirs.requests[0] !== undefined && !isNext(theirs.requests[0]) ? theirs.requests[0] : undefined;
  const theyAccepted = first !== undefined && first.complete;
  if (ours.kind === 'accepted') {
    assert.ok(theyAccepted, `we accept what llhttp refuses${context}`);
    assertSameMessage(ours, first, context);
    tally.bothAccepted++;
    // Pipelining: where we see a second whole request, llhttp sees the same one.
    if (!ours.head.keepAlive) return;
    const second = parseWhole(raw.subarray(ours.consumed), LIMITS);
    if (second.kind !== 'accepted') return;
    const theirSecond = theirs.requests[1];
    assert.ok(theirSecond !== undefined && theirSecond.complete, `llhttp did not find our second request${context}`);
    assertSameMessage(second, theirSecond, context);
    tally.sameNext++;
  } else if (ours.kind === 'incomplete') {
    assert.ok(!theyAccepted, `we wait for bytes where llhttp saw a whole request${context}`);
    tally.bothIncomplete++;
  } else if (theyAccepted) {
    assert.ok(STRICTER_THAN_LLHTTP[ours.code] !== undefined, `we refuse, llhttp accepts, and ${ours.code} is not a documented stricter category${context}`);
    tally.stricter.set(ours.code, (tally.stricter.get(ours.code) ?? 0) + 1);
  } else {
    tally.bothRefused++;
  }
}

function report(tally: Tally): string {
  const stricter = [...tally.stricter].map(([code, n]) => `${code}=${n}`).join(' ');
  return `both accepted ${tally.bothAccepted} (same pipelined follow-up ${tally.sameNext}), both refused ${tally.bothRefused}, ` +
    `both incomplete ${tally.bothIncomplete}, stricter: ${stricter || 'none'}`;
}

// ---- tests -----------------------------------------------------------------

test('differential against llhttp', { timeout: deepRuns > 0 ? 7_200_000 : 120_000 }, async (t) => {
  const oracle = await LlhttpOracle.start();
  t.after(() => oracle.close());

  const run = async (name: string, arb: fc.Arbitrary<string>, numRuns: number): Promise<Tally> => {
    const tally = newTally();
    await fc.assert(
      fc.asyncProperty(arb, async (raw) => {
        const buf = bytes(raw + NEXT);
        compare(buf, await oracle.send(buf), tally);
      }),
      { numRuns, interruptAfterTimeLimit: timeLimitMs, markInterruptAsFailure: false },
    );
    t.diagnostic(`${name}: ${report(tally)}`);
    return tally;
  };

  await t.test('generated requests: whenever we accept, llhttp accepts the same message', async () => {
    const tally = await run('grammar', request, numRunsGrammar);
    // Guard against a vacuous property: the grammar must produce many valid requests.
    assert.ok(tally.bothAccepted >= numRunsGrammar / 5, `only ${tally.bothAccepted} requests accepted by both`);
    assert.ok(tally.sameNext >= numRunsGrammar / 10, `only ${tally.sameNext} pipelined follow-ups compared`);
  });

  await t.test('byte-mutated requests: whenever we accept, llhttp accepts the same message', async () => {
    await run('mutated', mutated, numRunsMutated);
  });

  await t.test('the refusal corpus: where llhttp accepts, we are stricter on purpose', async () => {
    const tally = newTally();
    const failures: string[] = [];
    for (const c of CORPUS) {
      // Size limits are configuration, not grammar: llhttp runs with node's own.
      if (c.limits !== undefined || c.expectStatus === 413 || c.expectStatus === 414 || c.expectStatus === 431) continue;
      const buf = bytes(c.raw);
      try {
        compare(buf, await oracle.send(buf), tally);
      } catch (err) {
        failures.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    t.diagnostic(`corpus: ${report(tally)}`);
    assert.deepEqual(failures, []);
  });
});
