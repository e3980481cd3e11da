import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import * as acme from 'acme-client';
import * as x509 from '@peculiar/x509';
import { BerthError, isBerthError } from '../errors.ts';
import type { ChallengeResponder } from './challenge.ts';
import { acmeName } from './names.ts';
import { EC_P256, newKeyPair, privateKeyPem, readPair, splitCertificates, webCrypto, type CertificatePair } from './pem.ts';
import { ensurePrivateDir, readOptionalFile, tlsDir, writePrivateFile } from './tls-files.ts';

// One certificate from an ACME CA (RFC 8555) over HTTP-01, through
// acme-client: the account (its key made once, STATE/tls/acme/account-key.pem,
// 0600), a fresh P-256 key and CSR per order, the challenge published through
// a ChallengeResponder for the edge to answer, the chain checked against the
// key and the name. Storing, renewing and retrying are the certificate
// manager's; this file only talks to the CA.

/** Let's Encrypt's production directory: `--acme-directory`'s default. */
export const DEFAULT_ACME_DIRECTORY = acme.directory.letsencrypt.production;

/** What the operator configures (`--acme-directory`, `--acme-ca-bundle`, an email). */
export interface AcmeSettings {
  /** The CA's directory URL, https. */
  readonly directoryUrl: string;
  /** PEM certificates to trust for the CA's own HTTPS (a private CA such as pebble): replaces the system's roots for these requests. */
  readonly caBundle?: string;
  /** A contact address the CA may write to about expiring certificates or problems. */
  readonly email?: string;
}

const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** The settings checked: an https directory URL, a bundle holding certificates, a plain email. Throws BERTH_E_ACME_CONFIG. */
export function acmeSettings(value: AcmeSettings): AcmeSettings {
  let url: URL;
  try {
    url = new URL(value.directoryUrl);
  } catch {
    throw configError(`${JSON.stringify(value.directoryUrl)} is not a URL`, 'Give the ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory.');
  }
  if (url.protocol !== 'https:') {
    throw configError(`the ACME directory ${JSON.stringify(value.directoryUrl)} is not an https URL`, 'RFC 8555 requires HTTPS; give the https:// directory URL of the CA.');
  }
  if (value.caBundle !== undefined) {
    const certificates = splitCertificates(value.caBundle);
    if (certificates.length === 0) throw configError('the ACME CA bundle holds no PEM certificate', 'Give a PEM file with the root certificate of the CA\'s HTTPS server.');
    for (const pem of certificates) {
      try {
        new x509.X509Certificate(pem);
      } catch (err) {
        throw configError('the ACME CA bundle holds a certificate that cannot be parsed', 'Give a PEM file of certificates only.', err);
      }
    }
  }
  if (value.email !== undefined && (value.email.length > 254 || !EMAIL.test(value.email))) {
    throw configError(`${JSON.stringify(value.email.slice(0, 80))} is not an email address berth can give the CA`, 'Use a plain address such as ops@example.com.');
  }
  return {
    directoryUrl: url.href,
    ...(value.caBundle === undefined ? {} : { caBundle: value.caBundle }),
    ...(value.email === undefined ? {} : { email: value.email }),
  };
}

function configError(message: string, hint: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_E_ACME_CONFIG', message, { hint, status: 400, ...(cause === undefined ? {} : { cause }) });
}

/** Anything that can get a certificate for a host name: the manager's dependency. */
export interface CertificateIssuer {
  issue(host: string, responder: ChallengeResponder): Promise<CertificatePair>;
  close(): void;
}

/** How the client waits for the CA: polling of challenges and orders, and each request's deadline. */
export interface AcmePolling {
  /** Polls of one challenge or order before giving up. */
  readonly attempts: number;
  /** The first wait between polls; it doubles... */
  readonly minMs: number;
  /** ...up to this. */
  readonly maxMs: number;
  /** One HTTP request to the CA, at most. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_ACME_POLLING: AcmePolling = { attempts: 10, minMs: 1000, maxMs: 30_000, requestTimeoutMs: 30_000 };

export interface AcmeIssuerOptions extends AcmeSettings {
  /** The state directory (STATE); the account key lives in STATE/tls/acme/. */
  readonly stateDir: string;
  readonly polling?: Partial<AcmePolling>;
}

// acme-client retries a request that failed without an answer (or with 429
// or 5xx) five times in its own shared axios instance, waiting 5 s, 10 s …
// 25 s: over a minute for a CA that is down. The manager has its own backoff
// (1 min doubling to 6 h) and reports each failure, so each request here is
// marked as already past acme-client's last retry.
const NO_LIBRARY_RETRIES = Number.MAX_SAFE_INTEGER;

interface AcmeHttp {
  request(url: string, method: string, opts?: Record<string, unknown>): Promise<unknown>;
}

/** The account key's file. */
export function accountKeyPath(stateDir: string): string {
  return join(tlsDir(stateDir), 'acme', 'account-key.pem');
}

export class AcmeIssuer implements CertificateIssuer {
  readonly #settings: AcmeSettings;
  readonly #stateDir: string;
  readonly #polling: AcmePolling;
  readonly #agent: Agent;
  #client: Promise<acme.Client> | null = null;

  constructor(options: AcmeIssuerOptions) {
    this.#settings = acmeSettings(options);
    this.#stateDir = options.stateDir;
    this.#polling = { ...DEFAULT_ACME_POLLING, ...options.polling };
    // One agent per issuer: the CA bundle (when given) is trusted by these requests only.
    this.#agent = new Agent({ keepAlive: true, ...(this.#settings.caBundle === undefined ? {} : { ca: splitCertificates(this.#settings.caBundle) }) });
  }

  get directoryUrl(): string {
    return this.#settings.directoryUrl;
  }

  /**
   * A certificate for `host` (an ACME name: see `acmeName`): account
   * found or registered (once per issuer), order placed, the HTTP-01 challenge
   * published through `responder` until the CA has validated it (removed
   * afterwards, whatever happened), CSR for a fresh P-256 key, chain
   * downloaded and checked. Every failure is BERTH_E_ACME with the CA's
   * reason.
   */
  async issue(value: string, responder: ChallengeResponder): Promise<CertificatePair> {
    const host = acmeName(value);
    try {
      const client = await this.#clientOnce();
      const keys = await newKeyPair();
      const csr = await x509.Pkcs10CertificateRequestGenerator.create(
        {
          name: [{ CN: [host] }],
          keys,
          signingAlgorithm: EC_P256,
          extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }])],
        },
        webCrypto,
      );
      const certPem = await client.auto({
        csr: csr.toString('pem'),
        // The self-check would fetch the challenge from this machine on port 80 before telling the CA; the CA's own fetch is the one that counts.
        skipChallengeVerification: true,
        challengePriority: ['http-01'],
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type !== 'http-01') throw new Error(`the CA offers no http-01 challenge for ${host} (only ${challenge.type})`);
          responder.set(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          if (challenge.type === 'http-01') responder.remove(challenge.token);
        },
      });
      return readPair(certPem, await privateKeyPem(keys.privateKey), `the certificate the CA issued for ${host}`, host);
    } catch (err) {
      if (isBerthError(err) && err.code !== 'BERTH_E_CERTIFICATE') throw err;
      const why = reason(err);
      throw new BerthError('BERTH_E_ACME', `no certificate for ${host} from ${this.#settings.directoryUrl}: ${why}`, { cause: err, status: 502, hint: hintFor(host, why) });
    }
  }

  /** Close idle connections to the CA. Idempotent. */
  close(): void {
    this.#agent.destroy();
  }

  #clientOnce(): Promise<acme.Client> {
    if (this.#client === null) {
      const made = this.#makeClient();
      this.#client = made;
      // A failure (an unwritable state folder) is not remembered: the next order tries again.
      made.catch(() => {
        if (this.#client === made) this.#client = null;
      });
    }
    return this.#client;
  }

  async #makeClient(): Promise<acme.Client> {
    const client = new acme.Client({
      directoryUrl: this.#settings.directoryUrl,
      accountKey: await this.#accountKey(),
      backoffAttempts: this.#polling.attempts,
      backoffMin: this.#polling.minMs,
      backoffMax: this.#polling.maxMs,
    });
    // acme-client sends every request of a client through `client.http.request`
    // into one axios instance shared by the whole process; per-client
    // settings (whose CA to trust, the deadline, no retries of its own) go
    // into each request's options here, so two issuers never share them.
    const http = (client as unknown as { http?: AcmeHttp }).http;
    if (http === undefined || typeof http.request !== 'function') {
      throw new BerthError('BERTH_E_INTERNAL', 'this version of acme-client has no per-client request hook', { status: 500 });
    }
    const request = http.request.bind(http);
    const agent = this.#agent;
    const timeout = this.#polling.requestTimeoutMs;
    http.request = async (url, method, opts = {}) => {
      try {
        return await request(url, method, { ...opts, httpsAgent: agent, timeout, retryAttempt: NO_LIBRARY_RETRIES });
      } catch (err) {
        // acme-client returns every answer, whatever its status, so a throw
        // means there was none; its retry hook then loses the cause (it
        // reports "reading 'config'"). Ask the same URL once more, directly,
        // to say why: refused, not trusted, timed out.
        throw new Error(`${method.toUpperCase()} ${url}: ${await probe(url, agent, timeout)}`, { cause: err });
      }
    };
    await this.#register(client);
    return client;
  }

  /**
   * Find the account of this key, or make it (terms of service agreed on
   * the operator's behalf, as `--acme-directory` implies); then the contact
   * email, when configured, is brought up to date. acme-client's own
   * registration would send an account that already exists an "update"
   * without changes, which a strict CA refuses.
   */
  async #register(client: acme.Client): Promise<void> {
    const contact = this.#settings.email === undefined ? undefined : [`mailto:${this.#settings.email}`];
    let existed = true;
    try {
      await client.createAccount({ onlyReturnExisting: true });
    } catch {
      // "accountDoesNotExist" (or a CA that cannot be reached, which the next call reports).
      existed = false;
      await client.createAccount({ termsOfServiceAgreed: true, ...(contact === undefined ? {} : { contact }) });
    }
    if (existed && contact !== undefined) await client.updateAccount({ contact });
  }

  async #accountKey(): Promise<string> {
    const path = accountKeyPath(this.#stateDir);
    const stored = readOptionalFile(path);
    if (stored !== null) return stored;
    ensurePrivateDir(tlsDir(this.#stateDir));
    ensurePrivateDir(join(tlsDir(this.#stateDir), 'acme'));
    const keyPem = await privateKeyPem((await newKeyPair()).privateKey);
    writePrivateFile(path, keyPem);
    return keyPem;
  }
}

/** Why a request to `url` gets no answer, in words: the connection or TLS error, or the timeout. */
function probe(url: string, agent: Agent, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { method: 'HEAD', agent, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(`the request failed without an answer (the CA answers ${res.statusCode} now)`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve(reason(err)));
    req.end();
  });
}

/** A failure's reason in one line, without stacks or node's advice: acme-client's message carries the CA's problem detail. */
function reason(err: unknown): string {
  let current: unknown = err;
  // A connection that failed on every address (IPv4 and IPv6) is an AggregateError with no message of its own.
  for (let depth = 0; depth < 3 && current instanceof AggregateError && current.message === '' && current.errors.length > 0; depth++) current = current.errors[0];
  const message = current instanceof Error ? current.message || String((current as { code?: unknown }).code ?? current.name) : String(current);
  const line = message.replace(/; if the root CA is installed locally.*$/s, '').replace(/\s+/g, ' ').trim();
  return line.length > 400 ? `${line.slice(0, 400)}…` : line;
}

/** What to do about a failed order, from its reason. */
function hintFor(host: string, why: string): string {
  if (/certificate|self.signed|verify/i.test(why) && !/issuance|identifier/i.test(why)) {
    return "The CA's HTTPS certificate is not trusted: for a private CA, give its root with --acme-ca-bundle.";
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|no answer|ECONNRESET|directory/i.test(why)) {
    return 'The ACME directory cannot be reached: check --acme-directory and this server\'s outbound connections.';
  }
  return `The CA must reach http://${host}/.well-known/acme-challenge/ on port 80 of this server: check the DNS of ${host} and the firewall.`;
}
