import { domainToASCII, domainToUnicode } from 'node:url';
import { BerthError } from '../errors.ts';

// Strict validators for every name that reaches the platform from outside
// (the API, the CLI, the state database). Each returns the value it was given
// (or its one canonical form) or throws BERTH_E_NAME with a hint, so a caller
// can write `const name = appName(input)` and never handle a bad value later.
//
// The patterns are ASCII-only on purpose: a Cyrillic "а" that looks like a
// Latin "a" must not make a second app, token or domain that reads the same.

function refuse(what: string, value: unknown, hint: string): never {
  // The refused value is echoed back (JSON-quoted, so control characters and
  // lookalikes are visible) — these are names, never secrets.
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : String(typeof value);
  throw new BerthError('BERTH_E_NAME', `${shown} is not a valid ${what}`, { hint, status: 400 });
}

const APP_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * An app name: `^[a-z][a-z0-9-]{0,62}$`, not ending in "-" and without "--".
 * Why the two extra rules: the name is a DNS label (NAME.BASE), and labels
 * may not end in "-" (RFC 1123) while "--" is how IDNA punycode labels
 * ("xn--…") are spelled, so such names would not be reachable or would
 * look like another name.
 */
export function appName(value: unknown): string {
  const hint = 'App names are 1 to 63 characters: lowercase letters, digits and single "-" between them, starting with a letter (e.g. "shop" or "blog-2").';
  if (typeof value !== 'string' || !APP_NAME.test(value) || value.endsWith('-') || value.includes('--')) refuse('app name', value, hint);
  return value;
}

const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
// berth sets these in every instance's environment itself; a config var with
// the same name would be silently overwritten (PORT) or would let an app
// pretend to be another instance (DYNO, BERTH_*).
const RESERVED_KEYS = new Set(['PORT', 'DYNO']);

/** A config var key: an environment variable name the shell could also use. */
export function configKey(value: unknown): string {
  if (typeof value !== 'string' || !CONFIG_KEY.test(value)) {
    refuse('config var name', value, 'Config var names are letters, digits and "_", not starting with a digit, at most 255 characters (e.g. DATABASE_URL).');
  }
  if (RESERVED_KEYS.has(value) || value.startsWith('BERTH_')) {
    refuse('config var name', value, `berth sets ${value.startsWith('BERTH_') ? 'BERTH_* variables' : value} itself; pick another name.`);
  }
  return value;
}

/** The largest config value accepted: well under Linux's 128 KiB limit for one environment string. */
export const MAX_CONFIG_VALUE_BYTES = 32 * 1024;

/**
 * A config var value. The error never contains the value: values are secrets,
 * and error messages end up in logs and in the audit table.
 */
export function configValue(key: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new BerthError('BERTH_E_CONFIG_VALUE', `the value of ${key} must be a string`, { hint: 'Pass config values as strings: berth config set KEY=VALUE.', status: 400 });
  }
  // An environment string is NUL-terminated: a NUL would cut the value short.
  if (value.includes('\0')) {
    throw new BerthError('BERTH_E_CONFIG_VALUE', `the value of ${key} contains a NUL byte`, { hint: 'Environment variables cannot hold NUL bytes; encode binary values (e.g. base64).', status: 400 });
  }
  if (Buffer.byteLength(value) > MAX_CONFIG_VALUE_BYTES) {
    throw new BerthError('BERTH_E_CONFIG_VALUE', `the value of ${key} is longer than ${MAX_CONFIG_VALUE_BYTES} bytes`, {
      hint: 'Keep large data in a file or an add-on and put its location in the config var.',
      status: 400,
    });
  }
  return value;
}

// The Procfile's grammar (src/build/procfile.ts), so every type a Procfile
// can declare can also be scaled.
const PROCESS_TYPE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** A process type name as a Procfile declares it ("web", "worker", "clock-2"). */
export function processType(value: unknown): string {
  if (typeof value !== 'string' || !PROCESS_TYPE.test(value)) {
    refuse('process type', value, 'Process type names are letters, digits, "_" and "-", starting with a letter or digit, as in the Procfile.');
  }
  return value;
}

const TOKEN_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * An API token's name. Lowercase only, so "CI" and "ci" are not two tokens
 * that read the same in the audit log; "system" and "anonymous" are refused
 * because the audit log uses them for calls made without a token.
 */
export function tokenName(value: unknown): string {
  const hint = 'Token names are 1 to 63 characters: lowercase letters, digits, ".", "_" and "-", starting with a letter or digit (e.g. "ci" or "laptop.alice").';
  if (typeof value !== 'string' || !TOKEN_NAME.test(value)) refuse('token name', value, hint);
  if (value === SYSTEM_ACTOR || value === ANONYMOUS_ACTOR) refuse('token name', value, `"${value}" is a name the audit log uses for calls made without a token; pick another name.`);
  return value;
}

/** An SSH key's name: the same shape as a token name ("laptop.alice"). */
export function keyName(value: unknown): string {
  const hint = 'Key names are 1 to 63 characters: lowercase letters, digits, ".", "_" and "-", starting with a letter or digit (e.g. "laptop.alice").';
  if (typeof value !== 'string' || !TOKEN_NAME.test(value)) refuse('key name', value, hint);
  return value;
}

/** A cron job's name, the key of its entry in berth.toml's [cron] table: shaped like a process type. */
export function cronJobName(value: unknown): string {
  if (typeof value !== 'string' || !PROCESS_TYPE.test(value)) {
    refuse('cron job name', value, 'Cron job names are letters, digits, "_" and "-", starting with a letter or digit.');
  }
  return value;
}

/** The audit actor for a push authenticated by an SSH key: "ssh:" and the key's name. */
export function sshActor(key: string): string {
  return `ssh:${keyName(key)}`;
}

/** Who may appear as an audit actor: a token name, "ssh:KEY", "system" or "anonymous". */
export function auditActor(value: string): string {
  if (value === SYSTEM_ACTOR || value === ANONYMOUS_ACTOR) return value;
  if (value.startsWith('ssh:')) return sshActor(value.slice(4));
  return tokenName(value);
}

/** The audit actor for what berth does by itself (startup recovery, pruning). */
export const SYSTEM_ACTOR = 'system';
/** The audit actor for a request that presented no valid token. */
export const ANONYMOUS_ACTOR = 'anonymous';

const RELEASE_REF = /^v?([1-9][0-9]{0,8})$/;

/** A release reference, "v12" or "12", as its version number. */
export function releaseRef(value: unknown): number {
  const match = typeof value === 'string' ? RELEASE_REF.exec(value) : null;
  if (match === null) refuse('release', value, 'Name a release by its number, e.g. "v12" or "12" (see berth releases).');
  return Number(match[1]);
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A hostname for `berth domains add`, returned lowercased (DNS is
 * case-insensitive, and the edge matches Host lowercased). Refused: a
 * trailing dot, wildcards, IP addresses (an all-digit last label), "--" in
 * the third and fourth place unless it is punycode ("xn--"), names over 253.
 */
export function hostname(value: unknown): string {
  const hint = 'Use a DNS name such as "shop.example.com": labels of letters, digits and "-", separated by dots, no trailing dot, no IP addresses.';
  if (typeof value !== 'string' || value.length === 0 || value.length > 253) refuse('hostname', value, hint);
  const lower = value.toLowerCase();
  const labels = lower.split('.');
  for (const label of labels) {
    if (!LABEL.test(label)) refuse('hostname', value, hint);
    if (label.slice(2, 4) === '--' && !label.startsWith('xn--')) refuse('hostname', value, hint);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) refuse('hostname', value, hint);
  return lower;
}

/**
 * A domain an app answers on (`berth domains add`), in its ASCII form:
 * internationalised names are converted with IDNA (UTS #46, as browsers
 * do: "bücher.example" → "xn--bcher-kva.example"), "xn--" labels must be
 * valid punycode, and wildcards are refused — a wildcard certificate needs
 * the DNS-01 challenge, which berth does not do.
 */
export function domainName(value: unknown): string {
  if (typeof value === 'string' && (value.startsWith('*.') || value.includes('*'))) {
    refuse('domain', value, 'Wildcard domains need DNS-01 certificates, which berth does not obtain; add each name (e.g. "www.example.com") on its own.');
  }
  const hint = 'Use a DNS name such as "shop.example.com" or "bücher.example": labels separated by dots, no trailing dot, no IP addresses.';
  if (typeof value !== 'string' || value.length === 0 || value.length > 253) refuse('domain', value, hint);
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x00-\x7f]*$/.test(value) ? value.toLowerCase() : domainToASCII(value);
  if (ascii === '') refuse('domain', value, hint);
  const name = hostname(ascii);
  for (const label of name.split('.')) {
    // A label that claims to be punycode must decode to a non-ASCII label
    // that encodes back to itself (Node leaves undecodable labels as they are).
    if (!label.startsWith('xn--')) continue;
    const unicode = domainToUnicode(label);
    if (unicode === label || /^[\x00-\x7f]*$/.test(unicode) || domainToASCII(unicode) !== label) refuse('domain', value, hint);
  }
  return name;
}

/** A domain as people read it: "xn--bcher-kva.example" → "bücher.example". */
export function domainDisplayName(ascii: string): string {
  return domainToUnicode(ascii) || ascii;
}

/** A URL path (and optional query) as the edge receives it: "/", "/blog/post?id=2". */
export function urlPath(value: unknown): string {
  const hint = 'Give a path starting with "/", e.g. /blog or /search?q=berth, as it appears in the URL (percent-encoded).';
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 8192 || !/^[\x21-\x7e]+$/.test(value)) refuse('path', value, hint);
  return value;
}

// Git's check-ref-format rules, reduced to what a branch name needs: no
// "..", no "//", no leading/trailing "/" or ".", no ".lock" suffix, no "@{".
const BRANCH = /^[A-Za-z0-9._/-]{1,200}$/;

/** The branch `git push berth BRANCH` deploys. */
export function branchName(value: unknown): string {
  const hint = 'Use a git branch name such as "main" or "release/2024": letters, digits, ".", "_", "-" and "/".';
  if (typeof value !== 'string' || !BRANCH.test(value)) refuse('branch name', value, hint);
  if (value.includes('..') || value.includes('//') || value.includes('/.') || /^[./-]|[./]$|\.lock$/.test(value)) refuse('branch name', value, hint);
  return value;
}
