// The plan an engine carries out: status, headers, and where the body comes
// from. Nothing here knows about node:http, so a hand-written engine can
// write the same plan to a raw socket.

import type { FileHandle } from 'node:fs/promises';

/**
 * A file the plan chose. Engines never open `path` themselves: open()
 * opens it through its site's checks (see openVerified), or answers null
 * when the path no longer names that file inside the root, which the
 * engine answers as a missing file (404).
 */
export interface StaticFile {
  readonly path: string;
  open(): Promise<FileHandle | null>;
}

export type StaticBody =
  | { kind: 'none' }
  | { kind: 'buffer'; data: Buffer }
  | { kind: 'file'; file: StaticFile; start: number; end: number /* inclusive */ };

export type StaticResponse = {
  status: number;
  headers: Array<[string, string]>;
  body: StaticBody;
};

export const NO_BODY: StaticBody = Object.freeze({ kind: 'none' });

const TEXT_PLAIN = 'text/plain; charset=utf-8';

const REASONS: Readonly<Record<number, string>> = {
  301: 'Moved Permanently',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  416: 'Range Not Satisfiable',
};

// Bodies are built once; responses share them (they are never written to).
const BODIES = new Map<number, { data: Buffer; length: string }>(
  Object.entries(REASONS).map(([status, reason]) => {
    const data = Buffer.from(reason + '\n');
    return [Number(status), { data, length: String(data.length) }];
  }),
);

/**
 * A small plain-text answer. HEAD gets the same headers (the length of the
 * body it would have had) and no body.
 */
export function textResponse(status: number, method: string, extra?: Array<[string, string]>): StaticResponse {
  const body = BODIES.get(status);
  if (body === undefined) throw new RangeError(`no text body for status ${status}`);
  const headers: Array<[string, string]> = [
    ['Content-Type', TEXT_PLAIN],
    ['Content-Length', body.length],
    ['X-Content-Type-Options', 'nosniff'],
  ];
  if (extra !== undefined) headers.push(...extra);
  return { status, headers, body: method === 'HEAD' ? NO_BODY : { kind: 'buffer', data: body.data } };
}
