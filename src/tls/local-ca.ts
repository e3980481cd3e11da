import { randomBytes, type X509Certificate as NodeX509 } from 'node:crypto';
import { hostname as machineHostname } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { isIP } from 'node:net';
import { BerthError, isBerthError } from '../errors.ts';
import { localName } from './names.ts';
import { covers, EC_P256, importKeyPair, newKeyPair, parseCertificate, privateKeyPem, readPair, webCrypto, type CertificatePair, type CryptoKeyPair } from './pem.ts';
import { DEFAULT_RENEWAL_POLICY, isUsable, needsRenewal, type RenewalPolicy } from './renewal-policy.ts';
import { ensurePrivateDir, readPairFiles, tlsDir, writePairFiles } from './tls-files.ts';

// berth's own certificate authority, for the names no public CA will
// certify: "localhost", "*.localhost" and IP addresses. On first use it makes
// an ECDSA P-256 key and a self-signed root valid for ten years
// (STATE/tls/ca/); a browser trusts its leaves once that root is imported
// (`berth tls ca` prints it). Leaves are issued per name, valid 90 days,
// cached on disk (STATE/tls/local/NAME/) and in memory, and issued again when
// the renewal policy says so — or when they no longer match the root.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The root's lifetime. */
export const LOCAL_CA_ROOT_VALIDITY_MS = 3650 * DAY;
/** A leaf's lifetime: the same as a public CA's, so renewal runs as it will in production. */
export const LOCAL_CA_LEAF_VALIDITY_MS = 90 * DAY;
/** Certificates start an hour in the past, so a client whose clock is a little behind still accepts them. */
const BACKDATE_MS = HOUR;

export interface LocalCaOptions {
  /** The state directory (STATE); the CA lives in STATE/tls/ca and STATE/tls/local. */
  readonly stateDir: string;
  /** The machine's name, shown in the root's name ("berth local CA (NAME)"). Default: os.hostname(). */
  readonly machineName?: string;
  readonly clock?: { now(): number };
  readonly policy?: RenewalPolicy;
  /** A line for the daemon's log (never key material). */
  readonly log?: (line: string) => void;
}

interface Root {
  readonly certPem: string;
  readonly cert: x509.X509Certificate;
  /** The same certificate, parsed by node:crypto (for verifying leaves). */
  readonly parsed: NodeX509;
  readonly keys: CryptoKeyPair;
  readonly notAfter: number;
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive, as RFC 5280 requires
  return bytes.toString('hex');
}

/** The CN of the root: printable, one line, at most 64 characters (X.520's upper bound). */
export function localCaName(machine: string): string {
  const clean = machine.replace(/[^\x20-\x7e]/g, '?').slice(0, 40) || 'unknown host';
  return `berth local CA (${clean})`;
}

/** The folder of a leaf: its canonical name, with IPv6's ":" spelled "_" so every name is a plain file name. */
function leafDir(stateDir: string, name: string): string {
  return join(tlsDir(stateDir), 'local', name.replaceAll(':', '_'));
}

export class LocalCa {
  readonly #stateDir: string;
  readonly #root: Root;
  readonly #now: () => number;
  readonly #policy: RenewalPolicy;
  readonly #log: (line: string) => void;
  readonly #leaves = new Map<string, CertificatePair>();
  readonly #issuing = new Map<string, Promise<CertificatePair>>();

  private constructor(stateDir: string, root: Root, options: LocalCaOptions) {
    this.#stateDir = stateDir;
    this.#root = root;
    this.#now = options.clock === undefined ? Date.now : () => options.clock!.now();
    this.#policy = options.policy ?? DEFAULT_RENEWAL_POLICY;
    this.#log = options.log ?? (() => {});
  }

  /**
   * The local CA of a state directory: its root loaded from STATE/tls/ca/,
   * or made there on first use (and made anew if the stored one has expired
   * or cannot be read: every leaf is then issued again).
   */
  static async open(options: LocalCaOptions): Promise<LocalCa> {
    const now = options.clock?.now() ?? Date.now();
    const log = options.log ?? (() => {});
    const dir = join(tlsDir(options.stateDir), 'ca');
    ensurePrivateDir(tlsDir(options.stateDir));
    ensurePrivateDir(dir);
    let root: Root | null = null;
    const files = readCaFiles(dir);
    if (files !== null) {
      try {
        root = loadRoot(files.certPem, files.keyPem, now);
        if (root === null) log('tls: the local CA root has expired; making a new one (import it again where it was trusted)');
      } catch (err) {
        if (!isBerthError(err)) throw err;
        log(`tls: the local CA in ${dir} cannot be used (${err.message}); making a new one`);
      }
    }
    if (root === null) {
      root = await createRoot(localCaName(options.machineName ?? machineHostname()), now);
      writePairFiles(dir, { certPem: root.certPem, keyPem: await privateKeyPem(root.keys.privateKey) }, { key: 'ca-key.pem', cert: 'ca.pem' });
      log(`tls: made the local CA "${root.cert.subjectName.getField('CN')[0] ?? ''}" in ${dir}`);
    }
    return new LocalCa(options.stateDir, root, options);
  }

  /** The root certificate, PEM: what a browser or `curl --cacert` is given to trust the leaves. */
  get rootPem(): string {
    return this.#root.certPem;
  }

  /**
   * The leaf certificate for a local name ("shop.localhost", "127.0.0.1",
   * "::1"): from memory, else from disk, else newly issued; issued again
   * once the renewal policy says so. Concurrent calls for one name share one
   * issuance. The same object is returned while the leaf is unchanged, so a
   * caller may cache what it builds from it (a TLS context) by identity.
   */
  async certificateFor(value: string): Promise<CertificatePair> {
    const name = localName(value);
    const now = this.#now();
    const cached = this.#leaves.get(name);
    if (cached !== undefined && !needsRenewal(cached, now, this.#policy) && isUsable(cached, now)) return cached;
    const running = this.#issuing.get(name);
    if (running !== undefined) return running;
    const work = this.#loadOrIssue(name, now).finally(() => this.#issuing.delete(name));
    this.#issuing.set(name, work);
    return work;
  }

  async #loadOrIssue(name: string, now: number): Promise<CertificatePair> {
    const dir = leafDir(this.#stateDir, name);
    if (!this.#leaves.has(name)) {
      const stored = this.#loadLeaf(dir, name, now);
      if (stored !== null) {
        this.#leaves.set(name, stored);
        return stored;
      }
    }
    const pair = await this.#issue(name, now);
    writePairFiles(dir, pair);
    this.#leaves.set(name, pair);
    this.#log(`tls: the local CA issued a certificate for ${name}, valid until ${new Date(pair.notAfter).toISOString()}`);
    return pair;
  }

  /** A stored leaf that can still be served as it is, or null. */
  #loadLeaf(dir: string, name: string, now: number): CertificatePair | null {
    const files = readPairFiles(dir);
    if (files === null) return null;
    try {
      const pair = readPair(files.certPem, files.keyPem, `the local certificate for ${name}`, name);
      // Issued by another root (one replaced since): useless to a client trusting this one.
      const leaf = parseCertificate(pair.certPem, `the local certificate for ${name}`);
      if (!leaf.checkIssued(this.#root.parsed) || !leaf.verify(this.#root.parsed.publicKey)) return null;
      if (needsRenewal(pair, now, this.#policy) || !isUsable(pair, now)) return null;
      return pair;
    } catch (err) {
      if (!isBerthError(err)) throw err;
      this.#log(`tls: the stored local certificate for ${name} cannot be used (${err.message}); issuing a new one`);
      return null;
    }
  }

  /**
   * A leaf for a server of this machine that clients reach by several names
   * (berth's PostgreSQL: localhost, 127.0.0.1 and the sandboxes' service
   * address), issued afresh: the caller keeps it, and asks
   * serviceCertificateIsCurrent() before it serves a stored one again.
   */
  async issueServiceCertificate(names: readonly string[]): Promise<CertificatePair> {
    if (names.length === 0) throw new BerthError('BERTH_E_CERTIFICATE', 'a certificate needs at least one name', { status: 500 });
    const pair = await this.#issueFor(names.map((name) => localName(name)), this.#now());
    this.#log(`tls: the local CA issued a certificate for ${names.join(', ')}, valid until ${new Date(pair.notAfter).toISOString()}`);
    return pair;
  }

  /** Whether a stored service certificate can still be served: this root's, covering every name, not yet due for renewal. */
  serviceCertificateIsCurrent(pair: { certPem: string; keyPem: string }, names: readonly string[]): boolean {
    const now = this.#now();
    try {
      const read = readPair(pair.certPem, pair.keyPem, 'a service certificate');
      const leaf = parseCertificate(read.certPem, 'a service certificate');
      if (!leaf.checkIssued(this.#root.parsed) || !leaf.verify(this.#root.parsed.publicKey)) return false;
      if (!names.every((name) => covers(leaf, localName(name)))) return false;
      return !needsRenewal(read, now, this.#policy) && isUsable(read, now);
    } catch (err) {
      if (!isBerthError(err)) throw err;
      return false;
    }
  }

  #issue(name: string, now: number): Promise<CertificatePair> {
    return this.#issueFor([name], now);
  }

  async #issueFor(names: readonly string[], now: number): Promise<CertificatePair> {
    const name = names[0]!;
    const keys = await newKeyPair();
    const notAfter = Math.min(now + LOCAL_CA_LEAF_VALIDITY_MS, this.#root.notAfter);
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject: [{ CN: [name] }],
        issuer: this.#root.cert.subject,
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(notAfter),
        publicKey: keys.publicKey,
        signingKey: this.#root.keys.privateKey,
        signingAlgorithm: EC_P256,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: isIP(value) !== 0 ? ('ip' as const) : ('dns' as const), value })), false),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webCrypto),
          await x509.AuthorityKeyIdentifierExtension.create(this.#root.keys.publicKey, false, webCrypto),
        ],
      },
      webCrypto,
    );
    // The chain a server sends: the leaf alone (the root is what the client already trusts).
    return readPair(cert.toString('pem') + '\n', await privateKeyPem(keys.privateKey), `the local certificate for ${name}`, name);
  }
}

function readCaFiles(dir: string): { certPem: string; keyPem: string } | null {
  return readPairFiles(dir, { key: 'ca-key.pem', cert: 'ca.pem' });
}

/** The stored root if it can still sign (null once expired); BERTH_E_CERTIFICATE if damaged. */
function loadRoot(certPem: string, keyPem: string, now: number): Root | null {
  const pair = readPair(certPem, keyPem, 'the local CA root');
  if (!isUsable(pair, now)) return null;
  const parsed = parseCertificate(pair.certPem, 'the local CA root');
  if (!parsed.ca) throw new BerthError('BERTH_E_CERTIFICATE', 'the stored local CA root is not a CA certificate', { status: 500 });
  return { certPem: pair.certPem, cert: new x509.X509Certificate(pair.certPem), parsed, keys: importKeyPair(keyPem), notAfter: pair.notAfter };
}

async function createRoot(commonName: string, now: number): Promise<Root> {
  const keys = await newKeyPair();
  const notAfter = now + LOCAL_CA_ROOT_VALIDITY_MS;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [commonName] }, { O: ['berth'] }],
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      keys,
      signingAlgorithm: EC_P256,
      extensions: [
        // A CA that signs leaves only (path length 0).
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webCrypto),
      ],
    },
    webCrypto,
  );
  const certPem = cert.toString('pem') + '\n';
  return { certPem, cert, parsed: parseCertificate(certPem, 'the local CA root'), keys, notAfter: cert.notAfter.getTime() };
}

/**
 * The local CA's root as PEM, for `berth tls ca`: made on first use, as the
 * edge would make it.
 */
export async function localCaRootPem(options: LocalCaOptions): Promise<string> {
  return (await LocalCa.open(options)).rootPem;
}
