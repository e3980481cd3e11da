// The parser's refusals: a stable code, the status the edge answers with,
// and a short reason. Every refusal closes the connection afterwards: once
// framing is in doubt nothing that follows on the socket can be trusted.
//
// Status is the one for a client request. When the same rule refuses an
// upstream response, the status is always 502 (see `responseError`).

export const HTTP1_ERRORS = {
  // request line
  HTTP_BAD_REQUEST_LINE: { status: 400, reason: 'request line is not "method SP target SP HTTP/1.x"' },
  HTTP_BAD_METHOD: { status: 400, reason: 'method is not a token' },
  HTTP_UNKNOWN_METHOD: { status: 501, reason: 'method is not implemented' },
  HTTP_CONNECT_UNSUPPORTED: { status: 501, reason: 'CONNECT is not supported: the edge is not a forward proxy' },
  HTTP_BAD_TARGET: { status: 400, reason: 'request target has a byte or a form that is not allowed' },
  HTTP_BAD_VERSION: { status: 400, reason: 'HTTP version is malformed' },
  HTTP_VERSION_UNSUPPORTED: { status: 505, reason: 'only HTTP/1.0 and HTTP/1.1 are supported' },
  HTTP_REQUEST_LINE_TOO_LONG: { status: 414, reason: 'request line is longer than the limit' },
  // line endings
  HTTP_BARE_LF: { status: 400, reason: 'a line ends with LF without CR' },
  HTTP_BARE_CR: { status: 400, reason: 'a CR is not followed by LF' },
  // field lines
  HTTP_OBS_FOLD: { status: 400, reason: 'a field line starts with whitespace (obs-fold)' },
  HTTP_WS_BEFORE_COLON: { status: 400, reason: 'whitespace between a field name and the colon' },
  HTTP_BAD_HEADER_NAME: { status: 400, reason: 'a field name is empty, not a token, or has no colon' },
  HTTP_BAD_HEADER_VALUE: { status: 400, reason: 'a field value contains a control character' },
  HTTP_HEADERS_TOO_LARGE: { status: 431, reason: 'header section is larger than the limit' },
  HTTP_TOO_MANY_HEADERS: { status: 431, reason: 'more header fields than the limit' },
  // Host
  HTTP_MISSING_HOST: { status: 400, reason: 'HTTP/1.1 request without Host' },
  HTTP_DUP_HOST: { status: 400, reason: 'more than one Host field' },
  HTTP_BAD_HOST: { status: 400, reason: 'Host is not a valid host[:port]' },
  // framing
  HTTP_BAD_CL: { status: 400, reason: 'Content-Length is not a single run of digits' },
  HTTP_DUP_CL: { status: 400, reason: 'more than one Content-Length field' },
  HTTP_CL_OVERFLOW: { status: 400, reason: 'Content-Length is too large to represent' },
  HTTP_CL_AND_TE: { status: 400, reason: 'both Content-Length and Transfer-Encoding' },
  HTTP_BAD_TE: { status: 400, reason: 'Transfer-Encoding is not a list of coding names' },
  HTTP_DUP_TE: { status: 400, reason: 'more than one Transfer-Encoding field' },
  HTTP_TE_NOT_CHUNKED: { status: 400, reason: 'chunked is not the final transfer coding exactly once' },
  HTTP_TE_UNSUPPORTED: { status: 501, reason: 'a transfer coding other than chunked' },
  HTTP_TE_ON_HTTP10: { status: 400, reason: 'Transfer-Encoding in an HTTP/1.0 message' },
  HTTP_BAD_CONNECTION: { status: 400, reason: 'Connection is not a list of tokens' },
  HTTP_EXPECTATION_FAILED: { status: 417, reason: 'the only supported expectation is 100-continue' },
  HTTP_BODY_TOO_LARGE: { status: 413, reason: 'body is larger than the limit' },
  // chunked body
  HTTP_BAD_CHUNK_SIZE: { status: 400, reason: 'chunk size is not 1*HEXDIG' },
  HTTP_CHUNK_SIZE_OVERFLOW: { status: 400, reason: 'chunk size is too large to represent' },
  HTTP_BAD_CHUNK_EXT: { status: 400, reason: 'chunk extension is malformed' },
  HTTP_CHUNK_LINE_TOO_LONG: { status: 400, reason: 'chunk size line is longer than the limit' },
  HTTP_CHUNK_MISSING_CRLF: { status: 400, reason: 'chunk data is not followed by CRLF' },
  HTTP_TRAILERS_TOO_LARGE: { status: 431, reason: 'trailer section is larger than the limit' },
  // upstream responses only (always 502)
  HTTP_BAD_STATUS_LINE: { status: 502, reason: 'status line is not "HTTP/1.x SP 3DIGIT SP reason"' },
  HTTP_INTERIM_WITH_BODY: { status: 502, reason: 'a 1xx response has Content-Length or Transfer-Encoding' },
} as const;

export type Http1ErrorCode = keyof typeof HTTP1_ERRORS;
export type Http1ErrorStatus = (typeof HTTP1_ERRORS)[Http1ErrorCode]['status'];

/** A refusal. These objects are preallocated and frozen: refusing costs no allocation. */
export interface Http1Error {
  readonly kind: 'error';
  readonly status: Http1ErrorStatus;
  readonly code: Http1ErrorCode;
  readonly reason: string;
}

function build(statusFor: (code: Http1ErrorCode) => Http1ErrorStatus): Readonly<Record<Http1ErrorCode, Http1Error>> {
  const out = {} as Record<Http1ErrorCode, Http1Error>;
  for (const code of Object.keys(HTTP1_ERRORS) as Http1ErrorCode[]) {
    out[code] = Object.freeze({ kind: 'error', status: statusFor(code), code, reason: HTTP1_ERRORS[code].reason });
  }
  return Object.freeze(out);
}

const REQUEST_ERRORS = build((code) => HTTP1_ERRORS[code].status);
const RESPONSE_ERRORS = build(() => 502);

/** The refusal of a client request (or of its body). */
export function requestError(code: Http1ErrorCode): Http1Error {
  return REQUEST_ERRORS[code];
}

/** The refusal of an upstream response: whatever the rule, the client gets 502. */
export function responseError(code: Http1ErrorCode): Http1Error {
  return RESPONSE_ERRORS[code];
}
