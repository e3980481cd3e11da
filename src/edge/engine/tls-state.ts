import { hash } from 'node:crypto';
import type { SecureContext } from 'node:tls';

// What one engine thread knows about TLS: a secure context per host name
// (chosen at the handshake from SNI), the context for handshakes without
// SNI, which hosts plain HTTP redirects to HTTPS, and the ACME HTTP-01
// answers it serves on plain HTTP, and the OCSP staples it hands to clients
// that ask (status_request). The control plane sends it all as plain data
// (`TlsConfig`); replacing it never touches an established connection,
// which keeps the context it was made with.

/** A certificate and its key, PEM, for one or more host names. */
export interface TlsCertificate {
  /** Lower-case host names this certificate serves (exact names, no wildcards). */
  readonly hosts: readonly string[];
  readonly certPem: string;
  readonly keyPem: string;
  /**
   * True when browsers trust it out of the box (ACME, or an operator's own
   * certificate): only then does plain HTTP redirect to HTTPS. A local-CA
   * certificate is not, so its hosts keep answering on HTTP.
   */
  readonly trusted: boolean;
  /**
   * A current, verified "good" OCSP response (DER) to staple, when the
   * certificate's CA runs a responder; none by default. Changing it alone
   * keeps the secure context.
   */
  readonly ocsp?: Uint8Array | null;
}

export interface TlsConfig {
  readonly certificates: readonly TlsCertificate[];
  /** For handshakes that name no host we hold (or none at all); null refuses them. */
  readonly fallback: { readonly certPem: string; readonly keyPem: string } | null;
}

/** Where HTTP-01 challenges are fetched from (RFC 8555 §8.3); never redirected. */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

// TLS 1.2 is the floor. TLS 1.3 suites are OpenSSL's defaults; for 1.2 only
// forward-secret AEAD suites (Mozilla's "intermediate" list).
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const SECURE_OPTIONS = Object.freeze({
  minVersion: 'TLSv1.2' as const,
  ciphers: TLS12_CIPHERS,
  honorCipherOrder: false,
  ALPNProtocols: ['h2', 'http/1.1'],
});

interface Held {
  readonly certPem: string;
  readonly keyPem: string;
  readonly context: SecureContext;
  readonly trusted: boolean;
  /** The leaf's DER as a key (sha256, base64): what the OCSPRequest event names it by. */
  readonly leafKey: string;
}

/** The key of a leaf certificate's DER, for `ocspFor`. */
function leafKeyOf(der: Uint8Array): string {
  return hash('sha256', der, 'base64');
}

/** The DER of the first certificate of a PEM chain (empty when there is none). */
function leafDer(certPem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/.exec(certPem);
  return match === null ? Buffer.alloc(0) : Buffer.from(match[1]!, 'base64');
}

export class TlsState {
  #byHost = new Map<string, Held>();
  #fallback: Held | null = null;
  /** OCSP staples by leaf key; empty unless some CA runs a responder. */
  #staples = new Map<string, Buffer>();
  #challenges: ReadonlyMap<string, string> = new Map();
  /** Called with the new fallback context, for the listener's default. */
  onFallback: ((context: { cert: string; key: string } | null) => void) | null = null;

  /**
   * Replaces the certificates. Contexts for unchanged PEM pairs are kept
   * (building one parses the key: about a millisecond each).
   */
  update(config: TlsConfig): void {
    const previous = new Map<string, Held>();
    for (const held of this.#byHost.values()) previous.set(held.certPem, held);
    if (this.#fallback !== null) previous.set(this.#fallback.certPem, this.#fallback);
    const reuse = (certPem: string, keyPem: string, trusted: boolean): Held => {
      const old = previous.get(certPem);
      if (old !== undefined && old.keyPem === keyPem && old.trusted === trusted) return old;
      // Loaded here rather than imported: an edge without HTTPS never loads node:tls.
      const { createSecureContext } = process.getBuiltinModule('node:tls');
      const context = createSecureContext({ ...SECURE_OPTIONS, cert: certPem, key: keyPem });
      return { certPem, keyPem, trusted, context, leafKey: leafKeyOf(leafDer(certPem)) };
    };
    const byHost = new Map<string, Held>();
    const staples = new Map<string, Buffer>();
    for (const certificate of config.certificates) {
      const held = reuse(certificate.certPem, certificate.keyPem, certificate.trusted);
      for (const host of certificate.hosts) byHost.set(host.toLowerCase(), held);
      const ocsp = certificate.ocsp ?? null;
      if (ocsp !== null && ocsp.byteLength > 0) staples.set(held.leafKey, Buffer.from(ocsp.buffer, ocsp.byteOffset, ocsp.byteLength));
    }
    this.#staples = staples;
    const fallback = config.fallback === null ? null : reuse(config.fallback.certPem, config.fallback.keyPem, false);
    this.#byHost = byHost;
    const fallbackChanged = fallback !== this.#fallback;
    this.#fallback = fallback;
    if (fallbackChanged) this.onFallback?.(fallback === null ? null : { cert: fallback.certPem, key: fallback.keyPem });
  }

  /** The context for a handshake's SNI name; undefined leaves it to the listener's default (the fallback). */
  contextFor(serverName: string): SecureContext | undefined {
    let name = serverName.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    return (this.#byHost.get(name) ?? this.#fallback)?.context;
  }

  /**
   * The OCSP staple for the certificate a handshake presents (its leaf, DER,
   * as the listener's OCSPRequest event gives it), or null: none held.
   * Costs a map lookup, and a sha256 of the leaf only when staples exist.
   */
  ocspFor(certificateDer: Uint8Array | null | undefined): Buffer | null {
    if (this.#staples.size === 0 || certificateDer == null) return null;
    return this.#staples.get(leafKeyOf(certificateDer)) ?? null;
  }

  /** The fallback pair, for a listener's default context. */
  get fallbackPair(): { cert: string; key: string } | null {
    return this.#fallback === null ? null : { cert: this.#fallback.certPem, key: this.#fallback.keyPem };
  }

  /** True when plain HTTP for this host should move to HTTPS: it has a trusted certificate. */
  redirects(host: string): boolean {
    return this.#byHost.get(host)?.trusted === true;
  }

  setChallenges(tokens: ReadonlyMap<string, string>): void {
    this.#challenges = tokens;
  }

  /**
   * The answer to an ACME HTTP-01 request (`target` is path and query), or
   * null when it is not a pending challenge (answer 404). Undefined when the
   * path is not a challenge path at all.
   */
  challenge(target: string): string | null | undefined {
    if (!target.startsWith(ACME_CHALLENGE_PREFIX)) return undefined;
    const query = target.indexOf('?');
    const token = target.slice(ACME_CHALLENGE_PREFIX.length, query === -1 ? target.length : query);
    return this.#challenges.get(token) ?? null;
  }
}
