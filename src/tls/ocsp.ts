import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';
import { splitCertificates } from './pem.ts';

// OCSP stapling where the CA offers it. A certificate whose Authority
// Information Access extension names an OCSP responder gets a signed "good"
// answer fetched from it, which the edge hands to clients in the handshake
// (status_request), sparing them a query of their own. Let's Encrypt has
// dropped OCSP (its certificates name no responder since 2025), so all of
// this is optional: no URL, no staple, nothing else changes.
//
// The responder is asked by the system `openssl ocsp` (argv, never a shell),
// which also verifies the answer: it must be signed by the certificate's
// issuer or by a responder the issuer delegated (OCSPSigning), and say
// "good" for this very certificate. When to refresh is a pure decision over
// the answer's times and an injected clock; `OcspStapler` does the timers.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface OcspPolicy {
  /** Refresh at half the answer's validity window, but no sooner than this after a fetch... */
  readonly refreshMinMs: number;
  /** ...and no later than this (never past the answer's expiry either). */
  readonly refreshMaxMs: number;
  /** The wait after the first failed fetch; each further failure doubles it... */
  readonly retryMinMs: number;
  /** ...up to this. */
  readonly retryMaxMs: number;
  /** How long an answer without nextUpdate counts as current (mozilla::pkix's rule: one day). */
  readonly lifetimeWithoutNextUpdateMs: number;
  /** The most a fetch may take, the responder's answer included. */
  readonly timeoutMs: number;
  /** How far ahead of our clock a responder's thisUpdate may be (its clock runs fast). */
  readonly clockSkewMs: number;
  /** How many `openssl ocsp` run at once (many certificates arrive together at start). */
  readonly concurrency: number;
}

/** Defaults defined once; the stapler and the tests use these. */
export const DEFAULT_OCSP_POLICY: OcspPolicy = {
  refreshMinMs: HOUR,
  refreshMaxMs: 12 * HOUR,
  retryMinMs: MINUTE,
  retryMaxMs: HOUR,
  lifetimeWithoutNextUpdateMs: DAY,
  timeoutMs: 10_000,
  clockSkewMs: 5 * MINUTE,
  concurrency: 4,
};

/** An OCSP answer's validity window, epoch milliseconds. */
export interface OcspTimes {
  readonly thisUpdate: number;
  /** Null when the responder set none ("newer information is always available"). */
  readonly nextUpdate: number | null;
}

/** A verified "good" OCSP response, DER: what the edge staples. */
export interface OcspResponse extends OcspTimes {
  readonly der: Buffer;
}

export interface OcspRequest {
  /** The leaf, then its chain: the first certificate after the leaf is its issuer. */
  readonly certPem: string;
  /** The responder (`ocspUrlOf`). */
  readonly url: string;
  /** Default DEFAULT_OCSP_POLICY.timeoutMs. */
  readonly timeoutMs?: number;
  /** Aborting kills `openssl` and rejects. */
  readonly signal?: AbortSignal;
  /** For tests: the clock the answer's times are judged by. */
  readonly now?: () => number;
}

/**
 * The OCSP responder the leaf (the first certificate of `certPem`) names in
 * its Authority Information Access extension, or null: none, not http(s),
 * or not a certificate at all.
 */
export function ocspUrlOf(certPem: string): string | null {
  const leaf = splitCertificates(certPem)[0];
  if (leaf === undefined) return null;
  let info: string | undefined;
  try {
    info = new X509Certificate(leaf).infoAccess;
  } catch {
    return null;
  }
  // Node prints one access description a line: "OCSP - URI:http://…", the
  // value as a JSON string when it holds characters that need escaping.
  for (const line of (info ?? '').split('\n')) {
    if (!line.startsWith('OCSP - URI:')) continue;
    let value = line.slice('OCSP - URI:'.length);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      continue;
    }
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '') return value;
  }
  return null;
}

/** When a staple stops being served: its nextUpdate, or a day after thisUpdate when it has none. */
export function ocspExpiry(times: OcspTimes, policy: OcspPolicy = DEFAULT_OCSP_POLICY): number {
  return times.nextUpdate ?? times.thisUpdate + policy.lifetimeWithoutNextUpdateMs;
}

/** True while a staple may be served: before its expiry. */
export function ocspUsable(times: OcspTimes, now: number, policy: OcspPolicy = DEFAULT_OCSP_POLICY): boolean {
  return now < ocspExpiry(times, policy);
}

/**
 * When to fetch a fresh answer, one just fetched at `now`: half-way through
 * its validity window, but at least 1 h and at most 12 h from now. The 1 h
 * floor gives way to the answer's expiry (an expired staple must never be
 * served), and nothing is sooner than the first retry wait, so a responder
 * with absurdly short windows is not hammered.
 */
export function ocspRefreshTime(input: OcspTimes & { readonly now: number }, policy: OcspPolicy = DEFAULT_OCSP_POLICY): number {
  const expiry = ocspExpiry(input, policy);
  const halfway = input.thisUpdate + (expiry - input.thisUpdate) / 2;
  const clamped = Math.min(Math.max(halfway, input.now + policy.refreshMinMs), input.now + policy.refreshMaxMs, expiry);
  return Math.round(Math.max(clamped, input.now + policy.retryMinMs));
}

/**
 * When to try again after `failures` failed fetches in a row (1 → 1 min,
 * 2 → 2 min … capped at 1 h); no later than the expiry of the staple still
 * served, so it is dropped on time.
 */
export function ocspRetryTime(input: { readonly now: number; readonly failures: number; readonly staple: OcspTimes | null }, policy: OcspPolicy = DEFAULT_OCSP_POLICY): number {
  const exponent = Math.min(Math.max(Math.floor(input.failures), 1) - 1, 60);
  const at = input.now + Math.min(policy.retryMinMs * 2 ** exponent, policy.retryMaxMs);
  if (input.staple === null || !ocspUsable(input.staple, input.now, policy)) return at;
  return Math.min(at, ocspExpiry(input.staple, policy));
}

function ocspError(message: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_E_OCSP', message, {
    status: 502,
    hint: 'Stapling is optional: handshakes go on without a staple and berth keeps retrying. A revoked certificate must be replaced.',
    ...(cause === undefined ? {} : { cause }),
  });
}

interface OpensslRun {
  readonly error: (Error & { code?: unknown; killed?: boolean }) | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runOpenssl(args: readonly string[], timeoutMs: number, signal: AbortSignal | undefined): Promise<OpensslRun> {
  return new Promise((resolve) => {
    execFile(
      'openssl',
      args,
      { timeout: timeoutMs, maxBuffer: 1 << 20, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, ...(signal === undefined ? {} : { signal }) },
      (error, stdout, stderr) => resolve({ error, stdout, stderr }),
    );
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** OpenSSL's printed time ("Nov 21 16:23:46 2026 GMT", "Jan  1 00:00:00.5 2026 GMT") as epoch ms, or null. */
export function parseOpensslTime(text: string): number | null {
  const match = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? (\d{4}) GMT$/.exec(text.trim());
  if (match === null) return null;
  const month = MONTHS.indexOf(match[1]!);
  if (month === -1) return null;
  return Date.UTC(Number(match[6]), month, Number(match[2]), Number(match[3]), Number(match[4]), Number(match[5]));
}

/**
 * Asks the responder about the leaf of `certPem` with `openssl ocsp` and
 * returns the DER answer to staple, once openssl has verified its signature
 * and it says "good" for this certificate and is current. Anything else
 * (no issuer in the chain, no answer, a responder error, a bad signature,
 * "revoked", "unknown", an expired answer) throws BERTH_E_OCSP.
 */
export async function fetchOcspResponse(request: OcspRequest): Promise<OcspResponse> {
  const [leaf, issuer] = splitCertificates(request.certPem);
  if (leaf === undefined) throw ocspError('the certificate to ask OCSP about is not PEM');
  if (issuer === undefined) throw ocspError('the certificate has no issuer certificate after it: OCSP needs the issuer');
  const timeoutMs = request.timeoutMs ?? DEFAULT_OCSP_POLICY.timeoutMs;
  const now = request.now ?? Date.now;
  // A folder of our own (mode 0700): openssl reads files, and nobody else should swap them.
  const dir = await mkdtemp(join(tmpdir(), 'berth-ocsp-'));
  try {
    const leafFile = join(dir, 'leaf.pem');
    const issuerFile = join(dir, 'issuer.pem');
    const responseFile = join(dir, 'response.der');
    await writeFile(leafFile, leaf, { mode: 0o600 });
    await writeFile(issuerFile, issuer, { mode: 0o600 });
    const args = [
      'ocsp',
      '-issuer', issuerFile,
      '-cert', leafFile,
      '-url', request.url,
      // Responders answer from caches; a nonce would defeat them, and clients cannot check ours anyway.
      '-no_nonce',
      '-timeout', String(Math.max(1, Math.ceil(timeoutMs / 1000))),
      // The issuer is the only trust anchor (-partial_chain lets it be one
      // without its root): the answer verifies when the issuer signed it, or
      // a responder certificate the issuer signed with the OCSPSigning
      // purpose (openssl checks that). -verify_other finds the issuer as the
      // signer when the answer carries no certificates. No system store.
      '-CAfile', issuerFile,
      '-partial_chain',
      '-verify_other', issuerFile,
      '-no-CApath',
      '-no-CAstore',
      '-respout', responseFile,
    ];
    const run = await runOpenssl(args, timeoutMs, request.signal);
    if (request.signal?.aborted === true) throw ocspError('the OCSP request was cancelled', request.signal.reason);
    if (run.error !== null && run.error.code === 'ENOENT') throw ocspError('openssl is not installed: it is what fetches OCSP responses', run.error);
    if (run.error?.killed === true) throw ocspError(`the OCSP responder ${request.url} gave no answer within ${timeoutMs} ms`);
    const responderError = /^Responder Error: (.+)$/m.exec(run.stdout);
    if (responderError !== null) throw ocspError(`the OCSP responder ${request.url} answered with an error: ${responderError[1]}`);
    if (run.stderr.includes('Response Verify Failure')) {
      throw ocspError(`the OCSP response from ${request.url} is not signed by the certificate's issuer or a responder it delegated`);
    }
    if (run.error !== null || !run.stderr.includes('Response verify OK')) {
      const reason = run.stderr.trim().split('\n')[0] || run.error?.message || 'no verified response';
      throw ocspError(`asking the OCSP responder ${request.url} failed: ${reason}`, run.error ?? undefined);
    }
    // The summary openssl prints for the -cert it asked about, found in the
    // answer by its certificate ID (issuer hashes and serial number):
    //   /tmp/…/leaf.pem: good
    //   	This Update: Nov 21 16:23:46 2026 GMT
    //   	Next Update: Nov 22 16:23:46 2026 GMT
    const lines = run.stdout.split('\n');
    const at = lines.indexOf(`${leafFile}: good`);
    if (at === -1) {
      const line = lines.find((candidate) => candidate.startsWith(`${leafFile}: `));
      if (line === undefined) throw ocspError(`the OCSP response from ${request.url} says nothing about this certificate`);
      const status = line.slice(leafFile.length + 2).trim();
      const reason = /^\tReason: (.+)$/m.exec(run.stdout);
      throw ocspError(`the OCSP responder ${request.url} says the certificate is ${status === 'No Status found.' ? 'not in its answer' : status}${reason === null ? '' : ` (${reason[1]})`}`);
    }
    let thisUpdate: number | null = null;
    let nextUpdate: number | null = null;
    for (const line of lines.slice(at + 1)) {
      if (!line.startsWith('\t')) break;
      if (line.startsWith('\tThis Update: ')) thisUpdate = parseOpensslTime(line.slice('\tThis Update: '.length));
      if (line.startsWith('\tNext Update: ')) nextUpdate = parseOpensslTime(line.slice('\tNext Update: '.length));
    }
    if (thisUpdate === null) throw ocspError(`the OCSP response from ${request.url} has no readable This Update time`);
    if (lines.includes('WARNING: Status times invalid.')) throw ocspError(`the OCSP response from ${request.url} is not current (its This Update or Next Update is out of range)`);
    const time = now();
    if (thisUpdate > time + DEFAULT_OCSP_POLICY.clockSkewMs) throw ocspError(`the OCSP response from ${request.url} is dated in the future`);
    if (nextUpdate !== null && nextUpdate <= time) throw ocspError(`the OCSP response from ${request.url} expired at ${new Date(nextUpdate).toISOString()}`);
    const der = await readFile(responseFile);
    if (der.length === 0) throw ocspError(`the OCSP response from ${request.url} is empty`);
    return { der, thisUpdate, nextUpdate };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One certificate to staple: its PEM (leaf then chain) and a name for log lines. */
export interface StapleTarget {
  readonly name: string;
  readonly certPem: string;
}

export interface OcspStaplerOptions {
  /** A staple appeared, was replaced or was dropped: push the certificates again. */
  readonly onChange: () => void;
  readonly log: (line: string) => void;
  readonly policy?: Partial<OcspPolicy>;
  /** For tests: the clock. */
  readonly now?: () => number;
}

interface Tracked {
  readonly target: StapleTarget;
  readonly url: string;
  staple: OcspResponse | null;
  failures: number;
  timer: NodeJS.Timeout | null;
  dropped: boolean;
}

/**
 * Keeps a current staple for each tracked certificate that names an OCSP
 * responder: fetched at once, refreshed at half its window, retried with
 * backoff after a failure while the old staple, still valid, keeps being
 * served, dropped at its expiry. One unref'd timer per such certificate,
 * cleared when it stops being tracked (host dropped, certificate replaced)
 * and on close(). Certificates without a responder cost nothing.
 */
export class OcspStapler {
  readonly #options: OcspStaplerOptions;
  readonly #policy: OcspPolicy;
  readonly #now: () => number;
  /** By certificate PEM: a replaced certificate is a new entry. */
  #tracked = new Map<string, Tracked>();
  /** Tracked certificates that name no responder (so they are parsed once). */
  #withoutUrl = new Set<string>();
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #slots: number;
  #waiting: Array<() => void> = [];
  #closed = false;

  constructor(options: OcspStaplerOptions) {
    this.#options = options;
    this.#policy = { ...DEFAULT_OCSP_POLICY, ...options.policy };
    this.#now = options.now ?? Date.now;
    this.#slots = Math.max(1, this.#policy.concurrency);
  }

  /** Staple exactly these certificates; the others are forgotten with their timers. Never calls onChange itself. */
  track(targets: Iterable<StapleTarget>): void {
    if (this.#closed) return;
    const wanted = new Map<string, StapleTarget>();
    for (const target of targets) wanted.set(target.certPem, target);
    for (const [certPem, entry] of this.#tracked) {
      if (wanted.has(certPem)) continue;
      entry.dropped = true;
      if (entry.timer !== null) clearTimeout(entry.timer);
      entry.timer = null;
      this.#tracked.delete(certPem);
    }
    for (const certPem of this.#withoutUrl) if (!wanted.has(certPem)) this.#withoutUrl.delete(certPem);
    for (const [certPem, target] of wanted) {
      if (this.#tracked.has(certPem) || this.#withoutUrl.has(certPem)) continue;
      const url = ocspUrlOf(certPem);
      if (url === null) {
        this.#withoutUrl.add(certPem);
        continue;
      }
      const entry: Tracked = { target, url, staple: null, failures: 0, timer: null, dropped: false };
      this.#tracked.set(certPem, entry);
      this.#schedule(entry, this.#now());
    }
  }

  /** The staple to serve with this certificate, or null (none yet, none offered, or expired). */
  stapleFor(certPem: string): Buffer | null {
    const staple = this.#tracked.get(certPem)?.staple ?? null;
    return staple !== null && ocspUsable(staple, this.#now(), this.#policy) ? staple.der : null;
  }

  /** How many certificates have a refresh timer (for tests and status). */
  get timers(): number {
    let count = 0;
    for (const entry of this.#tracked.values()) if (entry.timer !== null) count++;
    return count;
  }

  /** Clears every timer and kills fetches under way; idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const entry of this.#tracked.values()) {
        entry.dropped = true;
        if (entry.timer !== null) clearTimeout(entry.timer);
        entry.timer = null;
      }
      this.#tracked.clear();
      this.#abort.abort();
      for (const wake of this.#waiting.splice(0)) wake();
    }
    await Promise.all(this.#inFlight);
  }

  #schedule(entry: Tracked, at: number): void {
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      const work = this.#refresh(entry);
      this.#inFlight.add(work);
      void work.finally(() => this.#inFlight.delete(work));
    }, Math.max(0, at - this.#now()));
    entry.timer.unref();
  }

  async #refresh(entry: Tracked): Promise<void> {
    if (entry.dropped) return;
    if (entry.staple !== null && !ocspUsable(entry.staple, this.#now(), this.#policy)) {
      entry.staple = null;
      this.#options.log(`OCSP staple for ${entry.target.name} expired: handshakes go on without one`);
      this.#changed();
    }
    if (this.#slots > 0) this.#slots--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      if (entry.dropped) return;
      const staple = await fetchOcspResponse({ certPem: entry.target.certPem, url: entry.url, timeoutMs: this.#policy.timeoutMs, signal: this.#abort.signal, now: this.#now });
      if (entry.dropped) return;
      if (entry.failures > 0) this.#options.log(`OCSP staple for ${entry.target.name} is back`);
      entry.failures = 0;
      entry.staple = staple;
      this.#schedule(entry, ocspRefreshTime({ thisUpdate: staple.thisUpdate, nextUpdate: staple.nextUpdate, now: this.#now() }, this.#policy));
      this.#changed();
    } catch (err) {
      if (entry.dropped) return;
      entry.failures++;
      const now = this.#now();
      const at = ocspRetryTime({ now, failures: entry.failures, staple: entry.staple }, this.#policy);
      const keeping = entry.staple !== null ? '; the current staple is served meanwhile' : '';
      this.#options.log(`no OCSP staple for ${entry.target.name}: ${(err as Error).message}; next attempt in ${Math.ceil((at - now) / 1000)} s${keeping}`);
      this.#schedule(entry, at);
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#slots++;
    }
  }

  #changed(): void {
    if (this.#closed) return;
    try {
      this.#options.onChange();
    } catch (err) {
      this.#options.log(`pushing OCSP staples failed: ${(err as Error).message}`);
    }
  }
}
