/** What the tiny upstream answers, shared with the harness that checks the proxied bodies. */
export const TINY_BODY = 'hello, world\n';
export const LARGE_PATH = '/1mb';
export const LARGE_BODY_BYTES = 1024 * 1024;
