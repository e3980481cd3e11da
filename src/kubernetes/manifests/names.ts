import { createHash } from 'node:crypto';
import { BerthError } from '../../errors.ts';

// Kubernetes names from berth's names. Most objects berth makes are named
// as DNS-1123 labels (at most 63 characters of [a-z0-9-], starting and
// ending with a letter or digit); label values must fit in 63 characters
// too. berth's own names are looser (a Procfile type may be "Web_1"), so
// they are mapped, always the same way: lowercase, "_" and "." become "-",
// and the result trimmed of "-". A name that is too long keeps a readable
// head and tail with a hash of the whole in between, so two long names
// never shorten to the same thing. Anything that cannot be mapped (other
// characters, nothing left) is refused with BERTH_E_NAME rather than
// guessed at.

/** The longest DNS-1123 label, and so the longest name of most objects and of a label value. */
export const MAX_LABEL = 63;
/** A CronJob's name leaves room for the 11 characters its Jobs add (`-` and the scheduled minute). */
export const MAX_CRONJOB_NAME = 52;

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

function refuse(what: string, value: string, hint: string): never {
  const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  throw new BerthError('BERTH_E_NAME', `${shown} cannot be made a Kubernetes name (${what})`, { hint });
}

/** `value` as a DNS-1123 label's characters: lowercase, "_" and "." as "-", no "-" at either end. Not yet shortened. */
export function labelPart(value: string, what: string): string {
  const mapped = value.toLowerCase().replace(/[_.]/g, '-').replace(/^-+|-+$/g, '');
  if (mapped === '' || !/^[a-z0-9-]+$/.test(mapped)) {
    refuse(what, value, 'Use ASCII letters, digits, "-", "_" and "." only, with at least one letter or digit.');
  }
  return mapped;
}

/**
 * 16 hex digits (64 bits) of the whole name: two apps' long names that
 * shorten to the same head and tail differ only here, so finding a second
 * name with the same digits (to take over another app's Secret) must be
 * out of reach; 32 bits could be ground through in hours.
 */
function nameHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

function trimDashes(value: string): string {
  return value.replace(/^-+|-+$/g, '');
}

/**
 * `whole` in at most `max` characters. When longer, its end `tail` (what
 * the object is: "web", "release-v12") stays readable, the head is cut,
 * and a hash of the whole goes between them.
 */
function shorten(whole: string, tail: string, max: number): string {
  if (whole.length <= max) return whole;
  const hash = nameHash(whole);
  if (tail === '') return `${trimDashes(whole.slice(0, max - hash.length - 1))}-${hash}`;
  const budget = max - hash.length - 2;
  // No "--" in what is kept of the tail: in a shortened name a "--" can
  // only be the one that ends the app's part (see objectName), else an
  // app named like this name's head, hash and tail ("…-6134de04-x" with
  // "web") would get this very name for one of its objects ("x--web").
  const kept = trimDashes(tail.slice(0, Math.floor(budget / 2))).replace(/-{2,}/g, '-');
  const head = trimDashes(whole.slice(0, Math.min(whole.length - tail.length, budget - kept.length)));
  return [head, hash, kept].filter((p) => p !== '').join('-');
}

/** Parts (each already a `labelPart`) joined by "-", shortened to `max`. */
export function joinName(parts: readonly string[], max: number = MAX_LABEL): string {
  return shorten(parts.join('-'), parts.length > 1 ? parts.at(-1)! : '', max);
}

/**
 * An object's name: the app (an `appLabel`), "--", then what the object
 * is. App labels never hold "--", so the first "--" always ends the app's
 * part (a shortened name keeps no other) and two apps sharing a namespace
 * can never name an object alike
 * (app "shop" with process type "a-web" is "shop--a-web"; app "shop-a"
 * with "web" is "shop-a--web").
 */
export function objectName(app: string, rest: readonly string[], max: number = MAX_LABEL): string {
  return shorten(`${app}--${rest.join('-')}`, rest.at(-1) ?? '', max);
}

/** A label value (or a name) from one of berth's names, shortened to 63 characters when it must be. */
export function labelValue(value: string, what: string): string {
  return joinName([labelPart(value, what)]);
}

/** The app's name as every object carries it: a DNS-1035 label (it starts each object's name, and Service names must start with a letter) without "--" (see objectName). */
export function appLabel(app: string): string {
  const part = labelPart(app, 'app name');
  if (!/^[a-z]/.test(part)) refuse('app name', app, 'An app name must start with a letter.');
  if (part.includes('--')) refuse('app name', app, 'An app name may not hold "--" (nor "_" or "." beside "-" or each other): it separates the app from the rest of each object\'s name.');
  const name = joinName([part]);
  return name;
}

/** A name berth was given (a namespace) that must already be a DNS-1123 label: checked, never changed. */
export function exactLabel(value: string, what: string): string {
  if (!DNS_LABEL.test(value)) refuse(what, value, 'Use 1 to 63 lowercase letters, digits and "-", starting and ending with a letter or digit.');
  return value;
}

/** A name berth was given (a Secret's) that must already be a DNS-1123 subdomain: checked, never changed. */
export function exactSubdomain(value: string, what: string): string {
  if (!DNS_SUBDOMAIN.test(value)) refuse(what, value, 'Use lowercase letters, digits, "-" and ".", at most 253 characters, each dot-separated part starting and ending with a letter or digit.');
  return value;
}

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** An Ingress host: a lowercase DNS name, or a wildcard "*." in front of one. */
export function ingressHost(host: string): string {
  const labels = host.startsWith('*.') ? host.slice(2).split('.') : host.split('.');
  if (host.length > 253 || labels.length < 2 || !labels.every((l) => HOST_LABEL.test(l))) {
    refuse('domain', host, 'A domain is a lowercase DNS name such as "shop.example.com" (or "*.example.com"); IDNs in their xn-- form.');
  }
  return host;
}

/** A host as a name part: "*.example.com" → "wildcard-example-com". */
export function hostPart(host: string): string {
  return labelPart(host.replace(/^\*\./, 'wildcard.'), 'domain');
}

/** The name berth gives an app's config Secret (the spec's configSecret). */
export function configSecretName(app: string): string {
  return objectName(appLabel(app), ['config']);
}
