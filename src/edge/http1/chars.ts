// Byte classes from RFC 9110 §5.6.2 and RFC 9112 as 256-entry lookup tables:
// one array read per byte is the cheapest test V8 can do, and it keeps the
// grammar in one place instead of spread across comparisons.

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

function table(accept: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = accept(c) ? 1 : 0;
  return t;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
export const TCHAR = table((c) => isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

// A field value byte that is not whitespace: VCHAR (0x21-0x7e) or obs-text
// (0x80-0xff). obs-text is accepted, like nginx and llhttp do, because real
// clients send UTF-8 in values (filenames, cookies); it cannot affect framing.
export const FIELD_VCHAR = table((c) => (c >= 0x21 && c <= 0x7e) || c >= 0x80);
/** Any byte allowed inside a field value: FIELD_VCHAR plus SP and HTAB. */
export const FIELD_CHAR = table((c) => c === SP || c === HTAB || FIELD_VCHAR[c] === 1);

// Request-target bytes: visible ASCII without '#'. A fragment is never sent
// by a client (RFC 9112 §3.2), so '#' is refused instead of being cut off.
export const TARGET_CHAR = table((c) => c >= 0x21 && c <= 0x7e && c !== 0x23);

// Hostname bytes we accept in Host and absolute-form authorities: letters,
// digits, '-', '.', '_'. This is narrower than RFC 3986 reg-name (no
// sub-delims, '~' or pct-encoding): no real DNS name needs them and they
// are a common way to confuse routers.
export const HOST_CHAR = table((c) => isAlnum(c) || c === 0x2d || c === 0x2e || c === 0x5f);

// Inside an IP-literal: hex digits, ':' and '.' (for embedded IPv4).
export const IPV6_CHAR = table((c) => (c >= 0x30 && c <= 0x3a) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c === 0x2e);

// qdtext plus the bytes allowed after a backslash in a quoted-pair.
export const QDTEXT = table((c) => c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80);
export const QUOTED_PAIR_CHAR = table((c) => c === HTAB || c === SP || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

// -1 for anything that is not a hex digit, else its value.
export const HEX_VALUE = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let c = 0x30; c <= 0x39; c++) t[c] = c - 0x30;
  for (let c = 0x41; c <= 0x46; c++) t[c] = c - 0x41 + 10;
  for (let c = 0x61; c <= 0x66; c++) t[c] = c - 0x61 + 10;
  return t;
})();

/** True when every char of `s` is a tchar (and `s` is not empty). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** True when `s` can be sent as a field value: field-vchar, SP, HTAB; no leading/trailing whitespace. */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return false;
    if (FIELD_VCHAR[c] === 1) continue;
    if ((c === SP || c === HTAB) && i !== 0 && i !== s.length - 1) continue;
    return false;
  }
  return true;
}
