// Strict, incremental HTTP/1.1 parsing and serialisation for the edge.
//
// How the engine uses it, per connection:
//   1. parseRequestHead(buf, offset, limits) until it is not 'incomplete'.
//      'error' → write the status, close. 'head' → offset += consumed.
//   2. Body by head.bodyKind: 'length' → exactly contentLength bytes;
//      'chunked' → a new ChunkedDecoder(limits) fed until done (its
//      `consumed` tells where the next pipelined request starts).
//   3. Upstream: parseResponseHead(buf, offset, limits, method); 1xx other
//      than 101 is followed by another head; then the body by bodyKind.
//   4. Forward with forwardableHeaders() and serialize*Head(), adding the
//      edge's own framing.
// Any error → answer (or 502 for upstream errors) and close: framing is in
// doubt and no further byte on that connection can be trusted.

export { DEFAULT_HTTP1_LIMITS, resolveHttp1Limits, type Http1Limits } from './limits.ts';
export { HTTP1_ERRORS, type Http1Error, type Http1ErrorCode, type Http1ErrorStatus } from './errors.ts';
export {
  parseRequestHead, INCOMPLETE,
  type BodyKind, type Incomplete, type ParsedRequestHead, type RequestHead, type RequestHeadResult,
} from './request-head.ts';
export {
  parseResponseHead,
  type ParsedResponseHead, type ResponseBodyKind, type ResponseHead, type ResponseHeadResult,
} from './response-head.ts';
export { ChunkedDecoder, type ChunkedFeedResult, type ChunkedLimits } from './chunked.ts';
export { forwardableHeaders, isHopByHop, serializeRequestHead, serializeResponseHead } from './serialize.ts';
