import { BerthError } from '../errors.ts';
import { isDigest, type Digest } from './digest.ts';

/**
 * An image reference as Docker and the OCI tools write it:
 * `[REGISTRY/]REPOSITORY[:TAG][@sha256:…]`. The first component is the
 * registry when it has a `.` or a `:` or is `localhost`; otherwise the
 * registry is Docker Hub and a one-component repository is under `library/`.
 */
export interface ImageReference {
  /** host[:port] as written (`docker.io` for Docker Hub). */
  readonly registry: string;
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const DOCKER_HUB = 'docker.io';

function refuse(text: string, why: string): BerthError {
  return new BerthError('BERTH_E_IMAGE_REFERENCE', `the image reference ${JSON.stringify(text.slice(0, 300))} is malformed: ${why}`, { hint: 'write it as [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. registry.example.com:5000/team/app:v1 or node:24-slim@sha256:…' });
}

export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name.split('/').every((part) => COMPONENT.test(part));
}

export function isTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isRegistryHost(host: string): boolean {
  return HOST.test(host) && (!/:(\d+)$/.test(host) || Number(/:(\d+)$/.exec(host)![1]) <= 65535);
}

export function parseImageReference(text: string): ImageReference {
  if (text.length === 0 || text.length > 1024) throw refuse(text, 'it is empty or longer than 1024 characters');
  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const value = rest.slice(at + 1);
    if (!isDigest(value)) throw refuse(text, 'what follows @ is not sha256: and 64 lowercase hex digits');
    digest = value;
    rest = rest.slice(0, at);
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!isRegistryHost(first)) throw refuse(text, `${JSON.stringify(first)} is not a host[:port]`);
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    if (!isTag(tag)) throw refuse(text, `the tag ${JSON.stringify(tag)} is not 1-128 letters, digits, _ . - (not starting with . or -)`);
    rest = rest.slice(0, colon);
  }
  if (registry === DOCKER_HUB && !rest.includes('/')) rest = `library/${rest}`;
  if (!isRepositoryName(rest)) throw refuse(text, `the repository ${JSON.stringify(rest)} is not lowercase components separated by /`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: rest, tag, digest };
}

/** The host to connect to: Docker Hub's API lives on another name than its references. */
export function registryEndpoint(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}
