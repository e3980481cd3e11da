import type { TlsCertificate, TlsConfig } from '../edge/index.ts';
import { isBerthError } from '../errors.ts';
import { AcmeIssuer, type AcmePolling, type AcmeSettings } from './acme.ts';
import { CertificateManager } from './certificate-manager.ts';
import { ChallengeStore } from './challenge.ts';
import { LocalCa } from './local-ca.ts';
import { isLocalName, localName } from './names.ts';
import { OcspStapler, type OcspPolicy } from './ocsp.ts';
import type { CertificatePair } from './pem.ts';
import type { RenewalPolicy } from './renewal-policy.ts';

// The certificates of an HTTPS edge, kept in step with the hosts it serves:
// local names (NAME.localhost, IPs) from berth's local CA, every other name
// over ACME through the CertificateManager. Whenever a certificate appears or
// is renewed, the whole set goes to the edge as plain data (`apply`), and
// pending HTTP-01 tokens go to `applyChallenges`, so the edge's engines, in
// whatever thread, answer the CA on plain HTTP. ACME certificates whose CA
// runs an OCSP responder carry a staple, kept fresh by an OcspStapler; each
// new staple pushes the set again.

/** One certificate, and the whole set, as the edge takes them. */
export type EdgeCertificate = TlsCertificate;
export type EdgeTls = TlsConfig;

/** A host's certificate as `berth domains list` shows it. */
export type DomainCertificate =
  | { readonly source: 'local-ca'; readonly state: 'valid' | 'pending'; readonly notAfter?: string }
  | {
      readonly source: 'acme';
      readonly state: 'pending' | 'valid' | 'renewing' | 'failed';
      readonly notAfter?: string;
      readonly renewAt?: string;
      readonly error?: string;
      readonly nextAttempt?: string;
    }
  | { readonly source: 'none'; readonly state: 'none' };

export interface EdgeCertificatesOptions {
  readonly stateDir: string;
  /** The ACME CA for public names; null: only local names get certificates. */
  readonly acme: AcmeSettings | null;
  readonly apply: (tls: EdgeTls) => void;
  readonly applyChallenges: (tokens: ReadonlyMap<string, string>) => void;
  readonly log: (line: string) => void;
  /** For tests: the renewal policy and ACME polling. */
  readonly policy?: RenewalPolicy;
  readonly polling?: Partial<AcmePolling>;
  /** For tests: OCSP refresh timing and timeouts. */
  readonly ocsp?: Partial<OcspPolicy>;
}

export class EdgeCertificates {
  readonly #options: EdgeCertificatesOptions;
  readonly #localCa: LocalCa;
  readonly #manager: CertificateManager | null;
  readonly #issuer: AcmeIssuer | null;
  readonly #local = new Map<string, CertificatePair>();
  readonly #ocsp: OcspStapler;
  #fallback: CertificatePair;
  #hosts = new Set<string>();
  #localWork: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(options: EdgeCertificatesOptions, localCa: LocalCa, fallback: CertificatePair) {
    this.#options = options;
    this.#localCa = localCa;
    this.#fallback = fallback;
    this.#ocsp = new OcspStapler({ onChange: () => this.#push(), log: options.log, ...(options.ocsp ? { policy: options.ocsp } : {}) });
    if (options.acme === null) {
      this.#issuer = null;
      this.#manager = null;
      return;
    }
    this.#issuer = new AcmeIssuer({ ...options.acme, stateDir: options.stateDir, ...(options.polling ? { polling: options.polling } : {}) });
    const challenges = new ChallengeStore({ onChange: (tokens) => options.applyChallenges(tokens) });
    this.#manager = new CertificateManager({
      stateDir: options.stateDir,
      issuer: this.#issuer,
      responder: challenges,
      ...(options.policy ? { policy: options.policy } : {}),
      onCertificate: (host) => {
        options.log(`certificate for ${host} is in use`);
        this.#push();
      },
      onState: (status) => {
        if (status.state === 'failed') options.log(`certificate for ${status.host} failed: ${status.error.message}`);
      },
      log: options.log,
    });
  }

  /** Opens the local CA (made on first use) and, with ACME settings, the manager; nothing is ordered before `setHosts`. */
  static async open(options: EdgeCertificatesOptions): Promise<EdgeCertificates> {
    const localCa = await LocalCa.open({ stateDir: options.stateDir });
    // Handshakes naming no host we hold (or none: clients never send an IP
    // in SNI) get the local CA's "localhost" leaf rather than a failed handshake.
    const fallback = await localCa.certificateFor('localhost');
    const certificates = new EdgeCertificates(options, localCa, fallback);
    certificates.#push();
    certificates.#manager?.start();
    return certificates;
  }

  /** The local CA's root certificate, PEM: what `berth tls ca` prints. */
  get rootPem(): string {
    return this.#localCa.rootPem;
  }

  /**
   * Keep certificates for exactly these hosts. Local names are issued by the
   * local CA at once (the returned promise waits for them); public names are
   * ordered in the background. Names that can have no certificate (e.g. a
   * wildcard) are left out with a log line.
   */
  setHosts(hosts: Iterable<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const host of hosts) wanted.add(host.toLowerCase());
    this.#hosts = wanted;
    const local = [...wanted].filter((host) => isLocalName(host));
    const publicNames = [...wanted].filter((host) => !isLocalName(host));
    if (this.#manager !== null) {
      try {
        this.#manager.setHosts(publicNames);
      } catch (err) {
        if (!isBerthError(err)) throw err;
        // One bad name must not keep the others from their certificates.
        const good = publicNames.filter((host) => {
          try {
            this.#manager!.add(host);
            return true;
          } catch {
            this.#options.log(`no certificate for ${host}: not a name a CA can certify`);
            return false;
          }
        });
        this.#manager.setHosts(good);
      }
    }
    const work = this.#localWork.then(async () => {
      for (const host of [...this.#local.keys()]) if (!wanted.has(host)) this.#local.delete(host);
      for (const host of local) {
        if (this.#closed) return;
        if (this.#local.has(host)) continue;
        try {
          this.#local.set(host, await this.#localCa.certificateFor(localName(host)));
        } catch (err) {
          this.#options.log(`no local certificate for ${host}: ${(err as Error).message}`);
        }
      }
      this.#push();
    });
    this.#localWork = work.catch(() => {});
    return work;
  }

  /** The certificate state of one host, for `berth domains list`. */
  status(host: string): DomainCertificate {
    const name = host.toLowerCase();
    if (isLocalName(name)) {
      const pair = this.#local.get(name);
      return pair === undefined ? { source: 'local-ca', state: 'pending' } : { source: 'local-ca', state: 'valid', notAfter: new Date(pair.notAfter).toISOString() };
    }
    const status = this.#manager?.statusOf(name) ?? null;
    if (status === null) return { source: 'none', state: 'none' };
    const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? {} : { notAfter: new Date(ms).toISOString() });
    switch (status.state) {
      case 'pending':
        return { source: 'acme', state: 'pending' };
      case 'valid':
        return { source: 'acme', state: 'valid', ...iso(status.notAfter), renewAt: new Date(status.renewAt).toISOString() };
      case 'renewing':
        return { source: 'acme', state: 'renewing', ...iso(status.notAfter) };
      case 'failed':
        return { source: 'acme', state: 'failed', ...iso(status.notAfter), error: status.error.message, nextAttempt: new Date(status.nextAttempt).toISOString() };
    }
  }

  /** The whole set, to the edge: the edge keeps contexts whose PEM did not change. */
  #push(): void {
    if (this.#closed) return;
    const certificates: EdgeCertificate[] = [];
    for (const [host, pair] of this.#local) certificates.push({ hosts: [host], certPem: pair.certPem, keyPem: pair.keyPem, trusted: false });
    const acme: Array<{ host: string; pair: CertificatePair }> = [];
    if (this.#manager !== null) {
      for (const host of this.#manager.certificates().keys()) {
        // An expired certificate (its renewal keeps failing) serves no one better than the fallback.
        const pair = this.#hosts.has(host) ? this.#manager.certificate(host) : null;
        if (pair !== null) acme.push({ host, pair });
      }
    }
    // Staples follow the certificates served: a dropped host or a replaced
    // certificate loses its refresh timer here.
    this.#ocsp.track(acme.map(({ host, pair }) => ({ name: host, certPem: pair.certPem })));
    for (const { host, pair } of acme) {
      certificates.push({ hosts: [host], certPem: pair.certPem, keyPem: pair.keyPem, trusted: true, ocsp: this.#ocsp.stapleFor(pair.certPem) });
    }
    this.#options.apply({ certificates, fallback: { certPem: this.#fallback.certPem, keyPem: this.#fallback.keyPem } });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#ocsp.close();
    await this.#localWork;
    await this.#manager?.close();
    this.#issuer?.close();
  }
}
