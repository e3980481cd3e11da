// Requests the edge must refuse: malformed messages and request-smuggling
// attempts, written for berth after the kinds of cases covered by llhttp's
// and Node's test suites and by published desync research (Kettle, "HTTP
// Desync Attacks" 2019 and "HTTP/1.1 must die" 2025; PortSwigger's TE.TE
// obfuscations; the 2023-2024 chunk-extension / "funky chunks" work on
// bare LF and lenient chunk lines). Each `raw` is latin1: one char per byte.
//
// Every case is checked with the bytes arriving at once and one at a time.

import type { Http1Limits } from '../../../src/edge/http1/index.ts';

export interface CorpusCase {
  readonly name: string;
  readonly raw: string;
  readonly expectStatus: number;
  readonly note: string;
  readonly limits?: Partial<Http1Limits>;
}

const H = 'Host: app.example\r\n';
const get = (extra: string): string => `GET / HTTP/1.1\r\n${H}${extra}\r\n`;
const post = (fields: string, body: string): string => `POST /upload HTTP/1.1\r\n${H}${fields}\r\n${body}`;
const chunkedPost = (body: string): string => post('Transfer-Encoding: chunked\r\n', body);

export const CORPUS: readonly CorpusCase[] = [
  // ---- request line -------------------------------------------------------
  { name: 'method in lower case', raw: `get / HTTP/1.1\r\n${H}\r\n`, expectStatus: 501, note: 'methods are case-sensitive; "get" is a token but not a method we know' },
  { name: 'made-up method', raw: `BREW /pot HTTP/1.1\r\n${H}\r\n`, expectStatus: 501, note: 'unknown methods get 501 (RFC 9110 §9.1) rather than reaching an app' },
  { name: 'method with a parenthesis', raw: `GE(T / HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: '"(" is a delimiter, not a tchar' },
  { name: 'two spaces after the method', raw: `GET  / HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'parsers that collapse spaces disagree on where the target starts' },
  { name: 'tab between method and target', raw: `GET\t/ HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'only a single SP separates request-line parts' },
  { name: 'two spaces before the version', raw: `GET /  HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'the version must follow exactly one SP' },
  { name: 'space before the method', raw: ` GET / HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'leading whitespace is not an empty line and not part of a method' },
  { name: 'HTTP/0.9 request without version', raw: 'GET /\r\n\r\n', expectStatus: 400, note: 'HTTP/0.9 has no headers, so no Host and no framing' },
  { name: 'space inside the target', raw: `GET /a b HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'an unencoded space would split the target; some servers take "b" as the version' },
  { name: 'NUL in the target', raw: `GET /a\x00b HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'C-string truncation in a backend would see "/a"' },
  { name: 'DEL in the target', raw: `GET /a\x7fb HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'target bytes must be visible ASCII' },
  { name: 'raw latin1 byte in the target', raw: `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'non-ASCII must be percent-encoded in a target' },
  { name: 'fragment in the target', raw: `GET /admin#/public HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'clients never send fragments; a router and an app may cut the path differently' },
  { name: 'asterisk-form on GET', raw: `GET * HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: '"*" is only meaningful for OPTIONS' },
  { name: 'authority-form on GET', raw: `GET app.example:443 HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'authority-form belongs to CONNECT only' },
  { name: 'relative target without a slash', raw: `GET index.html HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'origin-form starts with "/"' },
  { name: 'CONNECT tunnel request', raw: `CONNECT internal.example:22 HTTP/1.1\r\nHost: internal.example:22\r\n\r\n`, expectStatus: 501, note: 'the edge is not a forward proxy; a tunnel would bypass routing' },
  { name: 'absolute-form with userinfo', raw: `GET http://admin@app.example/ HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'RFC 9110 §4.2.4: userinfo in an http URI is an error' },
  { name: 'absolute-form with a non-http scheme', raw: `GET file:///etc/passwd HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'only http and https targets are routed' },
  { name: 'absolute-form with empty authority', raw: `GET http:///x HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'no host to route to' },
  { name: 'version in lower case', raw: `GET / http/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'HTTP-name is case-sensitive' },
  { name: 'HTTP/1.2', raw: `GET / HTTP/1.2\r\n${H}\r\n`, expectStatus: 505, note: 'well-formed but not a version we speak' },
  { name: 'HTTP/2 connection preface', raw: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expectStatus: 505, note: 'prior-knowledge h2 on an HTTP/1 port' },
  { name: 'two-digit minor version', raw: `GET / HTTP/1.10\r\n${H}\r\n`, expectStatus: 400, note: 'HTTP-version is exactly DIGIT "." DIGIT' },
  { name: 'HTTP/0.9 stated explicitly', raw: `GET / HTTP/0.9\r\n${H}\r\n`, expectStatus: 505, note: 'llhttp accepts it; we answer only 1.0 and 1.1' },
  { name: 'space after the version', raw: `GET / HTTP/1.1 \r\n${H}\r\n`, expectStatus: 400, note: 'nothing may follow the version' },
  { name: 'bare LF line endings throughout', raw: 'GET / HTTP/1.1\nHost: app.example\n\n', expectStatus: 400, note: 'lenient parsers end lines at LF; a strict one sees one long line' },
  { name: 'bare CR after the request line', raw: `GET / HTTP/1.1\r${H}\r\n`, expectStatus: 400, note: 'old Mac line ending; some parsers treat CR as a line end' },
  { name: 'TLS ClientHello on the plain port', raw: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', expectStatus: 400, note: 'refused at the first byte instead of waiting for a CRLF' },
  { name: 'UTF-8 BOM before the method', raw: `\xef\xbb\xbfGET / HTTP/1.1\r\n${H}\r\n`, expectStatus: 400, note: 'invisible bytes before the method' },
  { name: 'request line over the limit', raw: `GET /${'a'.repeat(9000)} HTTP/1.1\r\n${H}\r\n`, expectStatus: 414, note: 'default limit 8 KiB' },
  { name: 'request line over the limit, never ended', raw: `GET /${'a'.repeat(9000)}`, expectStatus: 414, note: 'refused before the line is complete' },

  // ---- field lines --------------------------------------------------------
  { name: 'space before the colon', raw: `GET / HTTP/1.1\r\nHost : app.example\r\n\r\n`, expectStatus: 400, note: 'RFC 9112 §5.1 requires 400; lenient parsers strip it' },
  { name: 'tab before the colon of Content-Length', raw: post('Content-Length\t: 5\r\n', 'hello'), expectStatus: 400, note: 'a front end that ignores the field and a back end that reads it disagree on the body' },
  { name: 'obs-fold continuation line', raw: get('X-Note: first\r\n second\r\n'), expectStatus: 400, note: 'obs-fold is deprecated (RFC 9112 §5.2); we refuse rather than unfold' },
  { name: 'whitespace line right after the request line', raw: `GET / HTTP/1.1\r\n ${H}\r\n`, expectStatus: 400, note: 'RFC 9112 §2.2: may hide the first field from one parser' },
  { name: 'field line without a colon', raw: get('X-Note first\r\n'), expectStatus: 400, note: 'not a field line' },
  { name: 'empty field name', raw: get(': value\r\n'), expectStatus: 400, note: 'field-name is 1*tchar' },
  { name: 'NUL in a value', raw: get('X-Note: a\x00b\r\n'), expectStatus: 400, note: 'NUL truncates values in C back ends' },
  { name: 'vertical tab in a value', raw: get('X-Note: a\x0bb\r\n'), expectStatus: 400, note: 'some parsers count VT as whitespace' },
  { name: 'form feed in a value', raw: get('X-Note: a\x0cb\r\n'), expectStatus: 400, note: 'control characters are not field-vchar' },
  { name: 'DEL in a value', raw: get('X-Note: a\x7fb\r\n'), expectStatus: 400, note: 'DEL is a control character' },
  { name: 'bare CR inside a value', raw: get('X-Note: a\rInjected: yes\r\n'), expectStatus: 400, note: 'CR-only splitting would create a field' },
  { name: 'field line ended by bare LF', raw: `GET / HTTP/1.1\r\n${H}X-Note: a\nContent-Length: 5\r\n\r\n`, expectStatus: 400, note: 'a hidden Content-Length for parsers that split on LF' },
  { name: 'bare CR at the start of a field line', raw: `GET / HTTP/1.1\r\n${H}\rContent-Length: 5\r\n\r\nhello`, expectStatus: 400, note: 'CR then a field is not the empty line; a parser that ends the head there drops Content-Length (found by the differential test)' },
  { name: 'parenthesis in a field name', raw: get('X(Note): a\r\n'), expectStatus: 400, note: 'delimiters are not tchar' },
  { name: 'at sign in a field name', raw: get('X@Note: a\r\n'), expectStatus: 400, note: 'delimiters are not tchar' },
  { name: 'latin1 byte in a field name', raw: get('X-Not\xe9: a\r\n'), expectStatus: 400, note: 'obs-text is allowed in values only' },
  { name: 'header section over the limit', raw: get(`X-Big: ${'a'.repeat(17000)}\r\n`), expectStatus: 431, note: 'default 16 KiB' },
  { name: 'header section over the limit, never ended', raw: `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(17000)}`, expectStatus: 431, note: 'refused once the limit is passed, not at the end' },
  { name: 'more fields than the limit', raw: get(Array.from({ length: 100 }, (_, i) => `X-F${i}: v\r\n`).join('')), expectStatus: 431, note: 'Host plus 100 fields, default limit 100' },

  // ---- Host ---------------------------------------------------------------
  { name: 'HTTP/1.1 without Host', raw: 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', expectStatus: 400, note: 'RFC 9112 §3.2 requires 400' },
  { name: 'two Host fields with one value', raw: `GET / HTTP/1.1\r\n${H}${H}\r\n`, expectStatus: 400, note: 'RFC 9112 §3.2: more than one Host is a 400' },
  { name: 'two Host fields, two values', raw: `GET / HTTP/1.1\r\n${H}Host: admin.internal\r\n\r\n`, expectStatus: 400, note: 'routing by first vs last Host differs between proxies' },
  { name: 'Host and HOST', raw: `GET / HTTP/1.1\r\n${H}HOST: admin.internal\r\n\r\n`, expectStatus: 400, note: 'field names are case-insensitive' },
  { name: 'empty Host', raw: 'GET / HTTP/1.1\r\nHost: \r\n\r\n', expectStatus: 400, note: 'nothing to route on' },
  { name: 'Host with a path', raw: 'GET / HTTP/1.1\r\nHost: app.example/evil\r\n\r\n', expectStatus: 400, note: 'host-header injection into generated URLs' },
  { name: 'Host with userinfo', raw: 'GET / HTTP/1.1\r\nHost: app.example@evil.example\r\n\r\n', expectStatus: 400, note: 'URL parsers disagree on which host this names' },
  { name: 'Host with a non-numeric port', raw: 'GET / HTTP/1.1\r\nHost: app.example:80x\r\n\r\n', expectStatus: 400, note: 'port = 1*5DIGIT' },
  { name: 'Host port out of range', raw: 'GET / HTTP/1.1\r\nHost: app.example:65536\r\n\r\n', expectStatus: 400, note: 'ports stop at 65535' },
  { name: 'Host with an empty port', raw: 'GET / HTTP/1.1\r\nHost: app.example:\r\n\r\n', expectStatus: 400, note: 'allowed by the grammar, useless and ambiguous: refused' },
  { name: 'Host as a list', raw: 'GET / HTTP/1.1\r\nHost: app.example, admin.internal\r\n\r\n', expectStatus: 400, note: 'Host is a singleton field' },
  { name: 'Host with a space inside', raw: 'GET / HTTP/1.1\r\nHost: app .example\r\n\r\n', expectStatus: 400, note: 'not a hostname' },
  { name: 'two Host fields on HTTP/1.0', raw: `GET / HTTP/1.0\r\n${H}Host: admin.internal\r\n\r\n`, expectStatus: 400, note: 'Host is optional on 1.0 but never repeated' },

  // ---- Content-Length -----------------------------------------------------
  { name: 'Content-Length with a plus sign', raw: post('Content-Length: +5\r\n', 'hello'), expectStatus: 400, note: 'integer parsers accept a sign; 1*DIGIT does not' },
  { name: 'negative Content-Length', raw: post('Content-Length: -1\r\n', ''), expectStatus: 400, note: 'no sign allowed' },
  { name: 'Content-Length list of equal values', raw: post('Content-Length: 5, 5\r\n', 'hello'), expectStatus: 400, note: 'RFC 9112 §6.3 lets a recipient accept it; we refuse any list' },
  { name: 'two equal Content-Length fields', raw: post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'), expectStatus: 400, note: 'duplicates are refused even when equal' },
  { name: 'two different Content-Length fields', raw: post('Content-Length: 5\r\nContent-Length: 30\r\n', 'hello'), expectStatus: 400, note: 'CL.CL: first vs last wins differs between hops' },
  { name: 'Content-Length and content-length', raw: post('Content-Length: 5\r\ncontent-length: 6\r\n', 'hello!'), expectStatus: 400, note: 'the same field in another case is still a duplicate' },
  { name: 'space inside Content-Length', raw: post('Content-Length: 1 0\r\n', 'helloworld'), expectStatus: 400, note: 'some parsers stop at the space and read 1' },
  { name: 'hexadecimal Content-Length', raw: post('Content-Length: 0x5\r\n', 'hello'), expectStatus: 400, note: 'strtol with base 0 would read 5' },
  { name: 'Content-Length overflowing 64 bits', raw: post('Content-Length: 18446744073709551621\r\n', 'hello'), expectStatus: 400, note: 'wraps to 5 in a uint64' },
  { name: 'Content-Length above 2^53', raw: post('Content-Length: 9007199254740993\r\n', 'hello'), expectStatus: 400, note: 'not exactly representable as a JS number' },
  { name: 'empty Content-Length', raw: post('Content-Length: \r\n', ''), expectStatus: 400, note: 'read as 0 by some, as absent by others' },
  { name: 'Content-Length with a decimal point', raw: post('Content-Length: 5.0\r\n', 'hello'), expectStatus: 400, note: 'not 1*DIGIT' },
  { name: 'Content-Length with trailing letters', raw: post('Content-Length: 5abc\r\n', 'hello'), expectStatus: 400, note: 'atoi would read 5' },
  { name: 'Content-Length after a vertical tab', raw: post('Content-Length:\x0b5\r\n', 'hello'), expectStatus: 400, note: 'VT is not OWS' },
  { name: 'Content-Length over the body limit', raw: post('Content-Length: 11\r\n', 'hello world'), expectStatus: 413, note: 'refused from the head, before reading the body', limits: { maxBodyBytes: 10 } },

  // ---- Content-Length with Transfer-Encoding (CL.TE / TE.CL) -------------
  { name: 'CL.TE: Content-Length then Transfer-Encoding', raw: post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\nG'), expectStatus: 400, note: 'the classic desync: a front end using CL forwards "G" as the start of the next request' },
  { name: 'TE.CL: Transfer-Encoding then Content-Length', raw: post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', '8\r\nSMUGGLED\r\n0\r\n\r\n'), expectStatus: 400, note: 'the reverse desync' },
  { name: 'Transfer-Encoding with Content-Length: 0', raw: post('Transfer-Encoding: chunked\r\nContent-Length: 0\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'both framings present is refused whatever the values' },

  // ---- Transfer-Encoding obfuscations (TE.TE) -----------------------------
  { name: 'TE: xchunked', raw: post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'substring matchers see "chunked"' },
  { name: 'TE: chunked, identity', raw: post('Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'chunked not final: RFC 9112 §6.3 requires 400' },
  { name: 'TE: identity', raw: post('Transfer-Encoding: identity\r\n', ''), expectStatus: 400, note: 'identity was removed from the registry; the body length is unknown' },
  { name: 'TE: gzip, chunked', raw: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'), expectStatus: 501, note: 'well-formed, but we only implement chunked' },
  { name: 'TE: chunked, chunked', raw: post('Transfer-Encoding: chunked, chunked\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'chunked applied twice is forbidden (RFC 9112 §6.1)' },
  { name: 'two Transfer-Encoding fields', raw: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'one hop may use the first, another the combined list' },
  { name: 'Transfer-Encoding then Transfer-Encoding: identity', raw: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'PortSwigger TE.TE variant' },
  { name: 'space before the colon of Transfer-Encoding', raw: post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'PortSwigger TE.TE variant' },
  { name: 'tab before the colon of Transfer-Encoding', raw: post('Transfer-Encoding\t: chunked\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'whitespace before the colon, tab flavour' },
  { name: 'vertical tab before chunked', raw: post('Transfer-Encoding:\x0bchunked\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'VT is not OWS (unlike HTAB, which is valid and accepted)' },
  { name: 'form feed after chunked', raw: post('Transfer-Encoding: chunked\x0c\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'FF is not OWS' },
  { name: 'TE with a parameter', raw: post('Transfer-Encoding: chunked;q=1\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'chunked takes no parameters' },
  { name: 'TE quoted', raw: post('Transfer-Encoding: "chunked"\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'a quoted string is not a coding name' },
  { name: 'TE on HTTP/1.0', raw: `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, expectStatus: 400, note: 'RFC 9112 §6.1: faulty framing on 1.0' },
  { name: 'TE value on an obs-fold line', raw: post('Transfer-Encoding:\r\n chunked\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'folded value seen by some, empty value by others' },
  { name: 'TE with a trailing comma', raw: post('Transfer-Encoding: chunked,\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'empty list element' },
  { name: 'TE with a leading comma', raw: post('Transfer-Encoding: , chunked\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'empty list element' },
  { name: 'TE: chunk', raw: post('Transfer-Encoding: chunk\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'prefix matchers see "chunk"' },
  { name: 'TE with a latin1 letter', raw: post('Transfer-Encoding: chunk\xe9d\r\n', '0\r\n\r\n'), expectStatus: 400, note: 'case-folding tables that map é to e' },
  { name: 'empty Transfer-Encoding', raw: post('Transfer-Encoding: \r\n', ''), expectStatus: 400, note: 'present but names no coding' },
  { name: 'TE ended by bare LF', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\n\r\n0\r\n\r\n`, expectStatus: 400, note: 'the field exists only for LF-splitting parsers' },

  // ---- chunked bodies -----------------------------------------------------
  { name: 'chunk size with 0x prefix', raw: chunkedPost('0x5\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'strtol base 16 accepts "0x"' },
  { name: 'chunk size with plus sign', raw: chunkedPost('+5\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'sign accepted by integer parsers' },
  { name: 'negative chunk size', raw: chunkedPost('-1\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'sign accepted by integer parsers' },
  { name: 'space before the chunk size', raw: chunkedPost(' 5\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'leading whitespace skipped by some' },
  { name: 'space after the chunk size', raw: chunkedPost('5 \r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'BWS is only allowed before ";" and we allow none' },
  { name: 'tab between chunk size and extension', raw: chunkedPost('5\t;ext\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'BWS refused' },
  { name: 'chunk size line ended by bare LF', raw: chunkedPost('5\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'funky chunks: LF-only line ends in chunk lines' },
  { name: 'chunk size line ended by bare CR', raw: chunkedPost('5\rhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'CR must be followed by LF' },
  { name: 'bare LF inside a chunk extension', raw: chunkedPost('5;a\nb\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'funky chunks: parsers that skip extensions up to CR see a different line end' },
  { name: 'control byte in a chunk extension value', raw: chunkedPost('5;a=\x01\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'extension values are token or quoted-string' },
  { name: 'unterminated quoted chunk extension', raw: chunkedPost('5;a="b\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'CR inside a quoted string' },
  { name: 'chunk extension without a name', raw: chunkedPost('5;=b\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'chunk-ext-name is a token' },
  { name: 'spaces around = in a chunk extension', raw: chunkedPost('5;a = b\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'BWS refused' },
  { name: 'chunk size of 17 hex digits', raw: chunkedPost('10000000000000005\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'truncating parsers read 5' },
  { name: 'chunk size of 18 Fs', raw: chunkedPost('FFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'overflow wraps in 64-bit parsers' },
  { name: 'chunk size above 2^53', raw: chunkedPost('20000000000000\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'not exact as a JS number' },
  { name: 'chunk size with 17 digits of leading zeros', raw: chunkedPost('00000000000000005\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'at most 16 hex digits, zeros included (llhttp accepts)' },
  { name: 'chunk data longer than its size', raw: chunkedPost('3\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'CRLF must follow exactly size bytes' },
  { name: 'chunk data followed by bare LF', raw: chunkedPost('5\r\nhello\n0\r\n\r\n'), expectStatus: 400, note: 'funky chunks: LF accepted as chunk terminator' },
  { name: 'chunk data followed by bare CR', raw: chunkedPost('5\r\nhello\r0\r\n\r\n'), expectStatus: 400, note: 'CRLF required' },
  { name: 'chunk data followed by other bytes', raw: chunkedPost('5\r\nhelloXX0\r\n\r\n'), expectStatus: 400, note: 'parsers that skip two bytes blindly accept anything' },
  { name: 'empty chunk size line', raw: chunkedPost('\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'chunk-size is 1*HEXDIG' },
  { name: 'last chunk ended by bare LF', raw: chunkedPost('0\n\r\n'), expectStatus: 400, note: 'LF-only end of body' },
  { name: 'final CRLF replaced by LF', raw: chunkedPost('0\r\n\n'), expectStatus: 400, note: 'the trailer section must end with CRLF' },
  { name: 'obs-fold in a trailer', raw: chunkedPost('0\r\nX-Sum: a\r\n b\r\n\r\n'), expectStatus: 400, note: 'trailers are as strict as headers' },
  { name: 'trailer without a colon', raw: chunkedPost('0\r\nX-Sum a\r\n\r\n'), expectStatus: 400, note: 'trailers are as strict as headers' },
  { name: 'NUL in a trailer value', raw: chunkedPost('0\r\nX-Sum: a\x00\r\n\r\n'), expectStatus: 400, note: 'trailers are as strict as headers' },
  { name: 'trailer ended by bare LF', raw: chunkedPost('0\r\nX-Sum: a\n\r\n'), expectStatus: 400, note: 'trailers are as strict as headers' },
  { name: 'underscore in the chunk size', raw: chunkedPost('1_0\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'some number parsers allow digit separators' },
  { name: 'non-hex letter in the chunk size', raw: chunkedPost('g\r\nhello\r\n0\r\n\r\n'), expectStatus: 400, note: 'not HEXDIG' },
  { name: 'chunk line over the limit', raw: chunkedPost(`5;${'a'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`), expectStatus: 400, note: 'unbounded extensions cost memory and time (CVE-2024-22019)' },
  { name: 'chunked body over the body limit', raw: chunkedPost('5\r\nhello\r\n0\r\n\r\n'), expectStatus: 413, note: 'refused on the declared chunk size', limits: { maxBodyBytes: 4 } },
  { name: 'chunks adding up over the body limit', raw: chunkedPost('3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n'), expectStatus: 413, note: 'the limit counts the whole body', limits: { maxBodyBytes: 5 } },
  { name: 'trailer section over the limit', raw: chunkedPost(`0\r\nX-Pad: ${'a'.repeat(9000)}\r\n\r\n`), expectStatus: 431, note: 'default 8 KiB of trailers' },

  // ---- other fields -------------------------------------------------------
  { name: 'Expect other than 100-continue', raw: get('Expect: 200-ok\r\n'), expectStatus: 417, note: 'RFC 9110 §10.1.1' },
  { name: 'quoted Connection token', raw: get('Connection: "close"\r\n'), expectStatus: 400, note: 'Connection is a list of tokens' },
];
