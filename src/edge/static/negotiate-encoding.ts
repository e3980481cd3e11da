// Accept-Encoding negotiation (RFC 9110 §12.5.3) among the codings we can
// produce: br, gzip, or none.

export type Encoding = 'br' | 'gzip' | 'identity';

const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * The coding to use for a compressible response. br wins ties with gzip
 * (smaller output); any acceptable coding wins a tie with identity. An
 * identity that is not listed is acceptable but ranks below listed codings
 * (as the `negotiator` package does), unless `*;q=0` rules it out. When
 * nothing is acceptable we still answer with identity instead of a 406: a
 * static file is better than an error for a confused client.
 */
export function negotiateEncoding(header: string | undefined): Encoding {
  if (header === undefined || header.length === 0) return 'identity';
  let br: number | undefined;
  let gzip: number | undefined;
  let identity: number | undefined;
  let star: number | undefined;

  for (const member of header.split(',')) {
    const semi = member.indexOf(';');
    const name = (semi === -1 ? member : member.slice(0, semi)).trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    if (semi !== -1) {
      const parsed = parseQ(member.slice(semi + 1));
      if (parsed === null) continue; // a member we cannot read says nothing
      q = parsed;
    }
    switch (name) {
      case 'br':
        br ??= q;
        break;
      case 'gzip':
      case 'x-gzip':
        gzip ??= q;
        break;
      case 'identity':
        identity ??= q;
        break;
      case '*':
        star ??= q;
        break;
    }
  }

  const qBr = br ?? star ?? 0;
  const qGzip = gzip ?? star ?? 0;
  const best = qBr >= qGzip ? qBr : qGzip;
  if (best > 0 && (identity === undefined || best >= identity)) return qBr >= qGzip ? 'br' : 'gzip';
  return 'identity';
}

/** q from `;q=0.5;foo=bar`, 1 when absent, null when malformed. */
function parseQ(params: string): number | null {
  let q = 1;
  for (const param of params.split(';')) {
    const eq = param.indexOf('=');
    if (eq === -1) {
      if (param.trim() === '') continue;
      return null;
    }
    if (param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const value = param.slice(eq + 1).trim();
    if (!QVALUE.test(value)) return null;
    q = Number(value);
  }
  return q;
}
