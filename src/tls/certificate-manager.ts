import { join } from 'node:path';
import { isBerthError } from '../errors.ts';
import type { CertificateIssuer } from './acme.ts';
import type { ChallengeResponder } from './challenge.ts';
import { acmeName } from './names.ts';
import { readPair, type CertificatePair } from './pem.ts';
import {
  certificateState,
  DEFAULT_RENEWAL_POLICY,
  isUsable,
  nextOrderTime,
  renewalTime,
  retryDelay,
  type CertificateError,
  type CertificateState,
  type RenewalPolicy,
} from './renewal-policy.ts';
import { ensurePrivateDir, readPairFiles, tlsDir, writePairFiles } from './tls-files.ts';

// One ACME certificate per app domain, kept valid. The manager holds the
// hosts it is given, loads what is stored for them (STATE/tls/certs/HOST/,
// no new order while a stored certificate is still good), and runs one timer
// that wakes at the earliest moment the pure policy (renewal-policy.ts) says
// some host needs an order: no certificate yet, its renewal time, or its
// retry time after a failure. Orders run through a CertificateIssuer (the
// AcmeIssuer), a few at a time. Every new certificate is stored (0600, in
// 0700 folders) and handed to `onCertificate` as a PEM pair, so the edge can
// swap its TLS context without dropping a connection; every state change
// goes to `onState`, for `berth domains list`.

/** A host's certificate state, with its host. */
export type HostCertificateStatus = CertificateState & { readonly host: string };

export interface CertificateManagerOptions {
  /** The state directory (STATE); certificates live in STATE/tls/certs/HOST/. */
  readonly stateDir: string;
  /** Gets a certificate for a host: an AcmeIssuer. The caller closes it. */
  readonly issuer: CertificateIssuer;
  /** Where HTTP-01 challenges are published for the edge to answer. */
  readonly responder: ChallengeResponder;
  readonly clock?: { now(): number };
  /** In [0, 1): the jitter of retry waits. Default Math.random. */
  readonly random?: () => number;
  readonly policy?: RenewalPolicy;
  /** A certificate was loaded from disk or newly issued: the edge loads this pair for `host`. */
  readonly onCertificate?: (host: string, pair: CertificatePair) => void;
  /** A host's state changed. */
  readonly onState?: (status: HostCertificateStatus) => void;
  /** A line for the daemon's log (never key material). */
  readonly log?: (line: string) => void;
  /** Orders under way at once, at most. Default 2. */
  readonly maxConcurrentOrders?: number;
  /** The timer never sleeps longer than this, so a changed wall clock is noticed. Default 1 h. */
  readonly maxSleepMs?: number;
}

interface Host {
  readonly host: string;
  pair: CertificatePair | null;
  failures: number;
  lastFailureAt: number | null;
  retryAfterMs: number;
  lastError: CertificateError | null;
  order: Promise<void> | null;
}

/** STATE/tls/certs/HOST */
export function certificateDir(stateDir: string, host: string): string {
  return join(tlsDir(stateDir), 'certs', host);
}

export class CertificateManager {
  readonly #stateDir: string;
  readonly #issuer: CertificateIssuer;
  readonly #responder: ChallengeResponder;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #policy: RenewalPolicy;
  readonly #onCertificate: (host: string, pair: CertificatePair) => void;
  readonly #onState: (status: HostCertificateStatus) => void;
  readonly #log: (line: string) => void;
  readonly #maxOrders: number;
  readonly #maxSleepMs: number;
  readonly #hosts = new Map<string, Host>();
  /** The newest certificate of each managed host: a live view for `selectCertificate`. */
  readonly #certificates = new Map<string, CertificatePair>();
  readonly #orders = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #started = false;
  #closed = false;

  constructor(options: CertificateManagerOptions) {
    this.#stateDir = options.stateDir;
    this.#issuer = options.issuer;
    this.#responder = options.responder;
    this.#now = options.clock === undefined ? Date.now : () => options.clock!.now();
    this.#random = options.random ?? Math.random;
    this.#policy = options.policy ?? DEFAULT_RENEWAL_POLICY;
    this.#onCertificate = options.onCertificate ?? (() => {});
    this.#onState = options.onState ?? (() => {});
    this.#log = options.log ?? (() => {});
    this.#maxOrders = Math.max(1, options.maxConcurrentOrders ?? 2);
    this.#maxSleepMs = Math.max(1, options.maxSleepMs ?? 3_600_000);
    ensurePrivateDir(tlsDir(this.#stateDir));
    ensurePrivateDir(join(tlsDir(this.#stateDir), 'certs'));
  }

  /** Start the timer: orders run from now on. Hosts may be set before or after. Idempotent. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#schedule();
  }

  /**
   * Manage exactly these hosts (ACME names: see `acmeName`; all are checked
   * before anything changes). New hosts get their stored certificate
   * (announced through `onCertificate` before this returns) or are ordered;
   * hosts left out stop being renewed, and their files stay (adding the
   * domain back reuses them rather than asking the CA again).
   */
  setHosts(hosts: Iterable<string>): void {
    const wanted = new Set([...hosts].map((host) => acmeName(host)));
    for (const host of [...this.#hosts.keys()]) if (!wanted.has(host)) this.#drop(host);
    for (const host of wanted) if (!this.#hosts.has(host)) this.#add(host);
    this.#schedule();
  }

  /** Manage one more host (see `setHosts`). */
  add(value: string): void {
    const host = acmeName(value);
    if (this.#hosts.has(host)) return;
    this.#add(host);
    this.#schedule();
  }

  /** Stop managing a host (see `setHosts`). */
  remove(value: string): void {
    const host = acmeName(value);
    if (!this.#hosts.has(host)) return;
    this.#drop(host);
    this.#schedule();
  }

  /** Every managed host's state, sorted by host. */
  status(): HostCertificateStatus[] {
    return [...this.#hosts.keys()].sort().map((host) => this.#status(this.#hosts.get(host)!));
  }

  /** One host's state, or null when it is not managed. */
  statusOf(value: string): HostCertificateStatus | null {
    const entry = this.#hosts.get(value.toLowerCase());
    return entry === undefined ? null : this.#status(entry);
  }

  /** The host's certificate if it has one that has not expired, else null. */
  certificate(value: string): CertificatePair | null {
    const pair = this.#certificates.get(value.toLowerCase());
    return pair !== undefined && isUsable(pair, this.#now()) ? pair : null;
  }

  /**
   * The newest certificate of every managed host, by host: a live view, for
   * `selectCertificate(name, { exact: manager.certificates(), … })`. It may
   * hold an expired certificate while the renewal of it keeps failing.
   */
  certificates(): ReadonlyMap<string, CertificatePair> {
    return this.#certificates;
  }

  /**
   * Start every order that is due now and wait until all orders under way
   * have ended (each host is ordered at most once per call). The timer does
   * the same by itself; this is for callers that drive the clock.
   */
  async runDue(): Promise<void> {
    const ordered = new Set<string>();
    for (let round = 0; round <= this.#hosts.size; round++) {
      this.#startDue(ordered);
      if (this.#orders.size === 0) return;
      await Promise.race(this.#orders);
    }
    await Promise.allSettled(this.#orders);
  }

  /** Stop the timer and wait for orders under way (their results are stored, not announced). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.allSettled(this.#orders);
  }

  #add(host: string): void {
    const entry: Host = { host, pair: null, failures: 0, lastFailureAt: null, retryAfterMs: 0, lastError: null, order: null };
    entry.pair = this.#load(host);
    this.#hosts.set(host, entry);
    if (entry.pair !== null) {
      this.#certificates.set(host, entry.pair);
      this.#log(`tls: ${host}: using the stored certificate, valid until ${iso(entry.pair.notAfter)}, renewed from ${iso(renewalTime(entry.pair, this.#policy))}`);
      this.#announce(host, entry.pair);
    }
    this.#emitState(entry);
  }

  #drop(host: string): void {
    this.#hosts.delete(host);
    this.#certificates.delete(host);
  }

  /** The stored certificate of a host, if it has one that has not expired and fits the host and its key. */
  #load(host: string): CertificatePair | null {
    try {
      const files = readPairFiles(certificateDir(this.#stateDir, host));
      if (files === null) return null;
      const pair = readPair(files.certPem, files.keyPem, `the stored certificate of ${host}`, host);
      if (!isUsable(pair, this.#now())) {
        this.#log(`tls: ${host}: the stored certificate expired at ${iso(pair.notAfter)}; ordering a new one`);
        return null;
      }
      return pair;
    } catch (err) {
      if (!isBerthError(err)) throw err;
      this.#log(`tls: ${host}: the stored certificate cannot be used (${err.message}); ordering a new one`);
      return null;
    }
  }

  #status(entry: Host): HostCertificateStatus {
    return {
      host: entry.host,
      ...certificateState(
        {
          certificate: entry.pair,
          failures: entry.failures,
          lastFailureAt: entry.lastFailureAt,
          retryAfterMs: entry.retryAfterMs,
          ordering: entry.order !== null,
          lastError: entry.lastError,
        },
        this.#now(),
        this.#policy,
      ),
    };
  }

  #nextOrder(entry: Host): number {
    return nextOrderTime(
      { certificate: entry.pair, failures: entry.failures, lastFailureAt: entry.lastFailureAt, retryAfterMs: entry.retryAfterMs, ordering: entry.order !== null },
      this.#policy,
    );
  }

  /** Start the orders that are due, up to the limit; `only` (runDue) skips hosts already ordered in its call. */
  #startDue(ordered?: Set<string>): void {
    if (this.#closed) return;
    const now = this.#now();
    const due = [...this.#hosts.values()]
      .filter((entry) => entry.order === null && !ordered?.has(entry.host) && this.#nextOrder(entry) <= now)
      .sort((a, b) => this.#nextOrder(a) - this.#nextOrder(b));
    for (const entry of due) {
      if (this.#orders.size >= this.#maxOrders) break;
      ordered?.add(entry.host);
      this.#startOrder(entry);
    }
  }

  #startOrder(entry: Host): void {
    const order = this.#order(entry).finally(() => {
      this.#orders.delete(order);
      entry.order = null;
      if (this.#hosts.get(entry.host) === entry) this.#emitState(entry);
      this.#schedule();
    });
    entry.order = order;
    this.#orders.add(order);
    this.#emitState(entry);
  }

  async #order(entry: Host): Promise<void> {
    const { host } = entry;
    const renewing = entry.pair !== null && isUsable(entry.pair, this.#now());
    this.#log(`tls: ${host}: ${renewing ? 'renewing the certificate' : 'ordering a certificate'} from the ACME CA`);
    let pair: CertificatePair;
    try {
      pair = await this.#issuer.issue(host, this.#responder);
    } catch (err) {
      entry.failures += 1;
      entry.lastFailureAt = this.#now();
      entry.retryAfterMs = retryDelay(entry.failures, this.#random(), this.#policy);
      entry.lastError = isBerthError(err) ? { code: err.code, message: err.message } : { code: 'BERTH_E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
      this.#log(`tls: ${host}: ${entry.lastError.message} [${entry.lastError.code}]; next attempt at ${iso(entry.lastFailureAt + entry.retryAfterMs)} (failure ${entry.failures} in a row)`);
      return;
    }
    entry.pair = pair;
    entry.failures = 0;
    entry.lastFailureAt = null;
    entry.retryAfterMs = 0;
    entry.lastError = null;
    try {
      writePairFiles(certificateDir(this.#stateDir, host), pair);
    } catch (err) {
      // Served from memory all the same; the next start orders again.
      this.#log(`tls: ${host}: the new certificate could not be stored (${err instanceof Error ? err.message : String(err)})`);
    }
    this.#log(`tls: ${host}: certificate ${renewing ? 'renewed' : 'issued'}, valid until ${iso(pair.notAfter)}, renewed from ${iso(renewalTime(pair, this.#policy))}`);
    if (this.#hosts.get(host) !== entry) return; // removed meanwhile: stored for later, not announced
    this.#certificates.set(host, pair);
    this.#announce(host, pair);
  }

  #announce(host: string, pair: CertificatePair): void {
    if (this.#closed) return;
    try {
      this.#onCertificate(host, pair);
    } catch (err) {
      this.#log(`tls: ${host}: the certificate listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #emitState(entry: Host): void {
    if (this.#closed) return;
    try {
      this.#onState(this.#status(entry));
    } catch (err) {
      this.#log(`tls: ${entry.host}: the state listener failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** (Re)arm the one timer for the earliest due order; none while every order slot is taken (an ending order re-arms it). */
  #schedule(): void {
    if (!this.#started || this.#closed) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#orders.size >= this.#maxOrders) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.#hosts.values()) if (entry.order === null) earliest = Math.min(earliest, this.#nextOrder(entry));
    if (earliest === Number.POSITIVE_INFINITY && this.#hosts.size === 0) return;
    const wait = Math.min(Math.max(0, earliest - this.#now()), this.#maxSleepMs);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#startDue();
      this.#schedule();
    }, wait);
    this.#timer.unref();
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : 'now';
}
