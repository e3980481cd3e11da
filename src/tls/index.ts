// Certificates: berth's local CA (for localhost names and IPs) and ACME
// (for every other domain), as a library the edge uses. This door is the only
// way in; nothing happens at import time.
//
// The edge's part:
// - `CertificateManager` keeps one ACME certificate per app domain, renews
//   it, and calls `onCertificate(host, pair)` with the PEM pair whenever one
//   is loaded or replaced; `certificates()` is the current map.
// - `LocalCa.certificateFor(name)` gives the leaf for a local name.
// - `selectCertificate(serverName, { exact, localCa })` decides, per
//   handshake, which of the two serves (or null: the edge's default).
// - `challengeResponse(path, tokens)` (or `ChallengeStore.respond`) answers
//   `/.well-known/acme-challenge/TOKEN` on port 80.
export { LocalCa, localCaRootPem, localCaName, LOCAL_CA_ROOT_VALIDITY_MS, LOCAL_CA_LEAF_VALIDITY_MS, type LocalCaOptions } from './local-ca.ts';
export {
  DEFAULT_RENEWAL_POLICY,
  renewalTime,
  needsRenewal,
  isUsable,
  retryDelay,
  nextOrderTime,
  certificateState,
  type RenewalPolicy,
  type Lifetime,
  type HostCertificateFacts,
  type CertificateState,
  type CertificateError,
} from './renewal-policy.ts';
export { selectCertificate, type AvailableCertificates, type CertificateSelection } from './select-certificate.ts';
export { ChallengeStore, challengeResponse, isChallengePath, CHALLENGE_PATH_PREFIX, type ChallengeResponder } from './challenge.ts';
export { certificateSource, isLocalName, isLocalhostName, localName, acmeName, type CertificateSource } from './names.ts';
export { splitCertificates, type CertificatePair } from './pem.ts';
export { AcmeIssuer, acmeSettings, accountKeyPath, DEFAULT_ACME_DIRECTORY, DEFAULT_ACME_POLLING, type AcmeSettings, type AcmeIssuerOptions, type AcmePolling, type CertificateIssuer } from './acme.ts';
export { CertificateManager, certificateDir, type CertificateManagerOptions, type HostCertificateStatus } from './certificate-manager.ts';
export { EdgeCertificates, type EdgeCertificatesOptions, type EdgeTls, type EdgeCertificate, type DomainCertificate } from './edge-certificates.ts';
