// A grammar of HTTP/1.1 requests for fast-check: mostly valid, with the
// variations that matter for framing and smuggling mixed in (methods,
// target forms, versions, separators, line endings, field names and values
// with control bytes, Host / Content-Length / Transfer-Encoding variants,
// chunked encodings broken in the ways published research describes).
// Strings are latin1: one char per byte.

import fc from 'fast-check';

// ---- request grammar ------------------------------------------------------

type Weighted<T> = { weight: number; arbitrary: fc.Arbitrary<T> };
const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>): Weighted<T> => ({ weight, arbitrary });
const k = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split('');
const VISIBLE = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i));
const CTLS = ['\x00', '\x01', '\x08', '\x0b', '\x0c', '\x1f', '\x7f', '\r', '\n'];

const eol = fc.oneof(w(150, k('\r\n')), w(1, k('\n', '\r', '\r\r\n', ' \r\n', '\n\r')));

const method = fc.oneof(
  w(40, k('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD')),
  w(2, k('PROPFIND', 'M-SEARCH', 'QUERY', 'PURGE', 'TRACE', 'MKCOL')),
  w(1, k('CONNECT', 'get', 'FOO', 'PRI', 'G(T', '', 'GET\x00')),
);

const pathChar = fc.oneof(w(100, k(...VISIBLE.filter((c) => c !== '#'))), w(1, k('#', ' ', '\t', '\x00', '\x7f', '\x80', '\xe9')));
const target = fc.oneof(
  w(20, k('/', '/index.html', '/a/b?c=d&e=f', '/search?q=%20x&x[0]=1')),
  w(12, fc.string({ unit: pathChar, maxLength: 12 }).map((s) => `/${s}`)),
  w(3, k('*', 'http://app.example/x', 'HTTPS://App.Example:8443', 'http://[::1]:80/', 'http://app.example?q')),
  w(1, k('http://user@app.example/', 'ftp://app.example/', 'app.example:443', '', 'index.html', 'http://', '/a#b')),
);

const version = fc.oneof(
  w(40, k('HTTP/1.1')),
  w(10, k('HTTP/1.0')),
  w(1, k('HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 ', 'HTTP/1.10', 'HTTP/1')),
);
const sp = fc.oneof(w(150, k(' ')), w(1, k('  ', '\t', '')));

interface Field {
  readonly name: string;
  readonly colon: string;
  readonly value: string;
  readonly end: string;
}

const colon = fc.oneof(w(40, k(': ')), w(10, k(':')), w(8, k(':\t', ':  ', ': \t')), w(1, k(' :', '\t:', ' : ')));
const field = (name: fc.Arbitrary<string>, value: fc.Arbitrary<string>): fc.Arbitrary<Field> =>
  fc.record({ name, colon, value, end: eol });
const fixedField = (name: string, value: string): Field => ({ name, colon: ': ', value, end: '\r\n' });

const valueChar = fc.oneof(w(300, k(...VISIBLE)), w(40, k(' ', '\t')), w(20, k('\x80', '\xe9', '\xff')), w(1, k(...CTLS)));
const fieldName = fc.oneof(
  w(30, k('X-Custom', 'Accept', 'User-Agent', 'Cookie', 'accept-language', 'X-Forwarded-For', 'Cache-Control', 'Keep-Alive')),
  w(15, fc.string({ unit: k(...TCHARS), minLength: 1, maxLength: 10 })),
  w(1, k('X Custom', 'X(a)', 'X@', 'X\x00', '', 'X\xe9', ' X', 'X\t')),
);
const extraField = field(fieldName, fc.string({ unit: valueChar, maxLength: 16 }));

const hostFields: fc.Arbitrary<Field[]> = fc.oneof(
  w(50, k([fixedField('Host', 'app.example')])),
  w(8, fc.constantFrom('a.example:8080', '[::1]', 'APP.Example', '127.0.0.1:3000', 'x_y.example').map((v) => [fixedField('Host', v)])),
  w(2, k([] as Field[])),
  w(1, k([fixedField('Host', 'a.example'), fixedField('host', 'a.example')], [fixedField('Host', 'a'), fixedField('Host', 'b')])),
  w(1, k('', 'a b', 'a/b', 'u@h', 'h:99999', 'h:', 'a,b', 'h:8x', '[zz]').map((v) => [fixedField('Host', v)])),
);

const connectionField = fc.oneof(
  w(20, k(null)),
  w(6, field(k('Connection', 'connection'), k('keep-alive', 'close', 'Keep-Alive, X-Foo', 'close,,'))),
  w(1, field(k('Connection'), k('"close"', 'keep-alive close'))),
);
const expectField = fc.oneof(
  w(20, k(null)),
  w(3, field(k('Expect'), k('100-continue', '100-Continue'))),
  w(1, field(k('Expect'), k('gimme', '100-continue-ish'))),
);

// ---- bodies ----------------------------------------------------------------

const bodyText = fc.string({ unit: fc.oneof(w(20, k(...VISIBLE)), w(2, k('\r', '\n', ' ')), w(1, k('\x00', '\xff'))), maxLength: 24 });

interface Framing {
  readonly fields: Field[];
  readonly body: string;
}

const ext = fc.oneof(w(8, k('')), w(2, k(';a', ';a=b', ';name="quoted value"', ';a;b=c', ';q="\\"x\\""')));
const trailers = fc.oneof(w(6, k('')), w(1, k('X-Sum: 1\r\n', 'X-A: a\r\nX-B:\tb\r\n')));

// A valid chunked encoding of `body`, split into 1 to 3 chunks.
const chunkedBody = fc.tuple(bodyText, fc.array(fc.nat(24), { maxLength: 2 }), ext, trailers, fc.boolean()).map(
  ([text, cuts, e, t, upper]) => {
    const points = [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort((a, b) => a - b);
    let out = '';
    let from = 0;
    for (const to of [...points, text.length]) {
      if (to > from) {
        const size = (to - from).toString(16);
        out += `${upper ? size.toUpperCase() : size}${e}\r\n${text.slice(from, to)}\r\n`;
      }
      from = to;
    }
    return { text, encoded: `${out}0${e}\r\n${t}\r\n` };
  },
);

// Ways to break a chunked encoding, after the funky-chunks research.
const chunkMutation = k<(s: string) => string>(
  (s) => `0x${s}`,
  (s) => `+${s}`,
  (s) => ` ${s}`,
  (s) => s.replace('\r\n', ' \r\n'),
  (s) => s.replace('\r\n', '\n'),
  (s) => s.replace(/\r\n0/, '\n0'),
  (s) => s.replace('\r\n', ';a b\r\n'),
  (s) => s.replace('\r\n', ';a=\x01\r\n'),
  (s) => s.replace('\r\n', ' ;a\r\n'),
  (s) => `000000000000000000${s}`,
  (s) => `ffffffffffffffffff\r\n${s}`,
  (s) => s.replace(/0\r\n\r\n$/, '0\n\r\n'),
  (s) => s.replace(/\r\n$/, '\n'),
  (s) => s.replace(/0\r\n/, '0\r\nX: a\r\n b\r\n'),
  (s) => s.replace(/^([0-9a-fA-F]+)/, (m) => (parseInt(m, 16) + 1).toString(16)),
  (s) => s.replace(/^([0-9a-fA-F]+)/, (m) => Math.max(parseInt(m, 16) - 1, 1).toString(16)),
);

const te = (value: string): Field => fixedField('Transfer-Encoding', value);
const cl = (value: string | number): Field => fixedField('Content-Length', String(value));

const framing: fc.Arbitrary<Framing> = fc.oneof(
  w(20, k({ fields: [], body: '' })),
  w(20, bodyText.map((b) => ({ fields: [cl(b.length)], body: b }))),
  w(20, chunkedBody.map((c) => ({ fields: [te('chunked')], body: c.encoded }))),
  w(3, fc.tuple(chunkedBody, field(k('Transfer-Encoding', 'transfer-encoding', 'Transfer_Encoding'), k('chunked', 'Chunked', 'CHUNKED')))
    .map(([c, f]) => ({ fields: [f], body: c.encoded }))),
  // Framing faults and smuggling shapes.
  w(2, fc.tuple(bodyText, fc.integer({ min: -2, max: 2 })).map(([b, d]) => ({ fields: [cl(Math.max(0, b.length + d))], body: b }))),
  w(2, fc.tuple(bodyText, k('+5', '-1', '5, 5', '0x5', ' 5', '05', '1 0', '', '5.0', '99999999999999999999')).map(([b, v]) => ({ fields: [cl(v)], body: b }))),
  w(1, bodyText.map((b) => ({ fields: [cl(b.length), cl(b.length)], body: b }))),
  w(4, fc.tuple(chunkedBody, chunkMutation).map(([c, m]) => ({ fields: [te('chunked')], body: m(c.encoded) }))),
  w(3, fc.tuple(chunkedBody, k('xchunked', 'chunked, identity', 'gzip, chunked', 'identity', 'chunked,', ' chunked ', '"chunked"', 'chunked;a=b', '\x0bchunked', 'chunked, chunked', 'gzip'))
    .map(([c, v]) => ({ fields: [te(v)], body: c.encoded }))),
  w(2, chunkedBody.map((c) => ({ fields: [cl(c.encoded.length), te('chunked')], body: c.encoded }))),
  w(1, chunkedBody.map((c) => ({ fields: [te('chunked'), te('chunked')], body: c.encoded }))),
);

export const request: fc.Arbitrary<string> = fc
  .record({
    lead: fc.oneof(w(60, k('')), w(1, k('\r\n', '\n', ' '))),
    method, sp1: sp, target, sp2: sp, version, lineEnd: eol,
    host: hostFields,
    extras: fc.array(extraField, { maxLength: 3 }),
    connection: connectionField,
    expect: expectField,
    framing,
    headEnd: eol,
  })
  .chain((r) => {
    const fields = [...r.host, ...r.extras, ...(r.connection ? [r.connection] : []), ...(r.expect ? [r.expect] : []), ...r.framing.fields];
    return fc.shuffledSubarray(fields, { minLength: fields.length }).map((shuffled) =>
      `${r.lead}${r.method}${r.sp1}${r.target}${r.sp2}${r.version}${r.lineEnd}` +
      shuffled.map((f) => `${f.name}${f.colon}${f.value}${f.end}`).join('') +
      `${r.headEnd}${r.framing.body}`);
  });

// Byte-level fuzz: a generated request with a few bytes replaced or inserted.
export const mutated: fc.Arbitrary<string> = fc
  .tuple(request, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 3 }))
  .map(([raw, edits]) => {
    let s = raw;
    for (const [at, byte, insert] of edits) {
      const i = s.length === 0 ? 0 : at % s.length;
      s = s.slice(0, i) + String.fromCharCode(byte) + s.slice(insert ? i : i + 1);
    }
    return s;
  });
