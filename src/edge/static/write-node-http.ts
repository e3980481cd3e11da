// Writes a StaticResponse to a node:http ServerResponse. The only file here
// that knows about node:http; the hand-written engine will have its own.

import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { textResponse, type StaticResponse } from './response.ts';

/**
 * Resolves when the response is complete or the client went away (both are
 * normal ends). Rejects only when the file could not be read in full after
 * the headers were sent; the connection is then destroyed, because a short
 * body under a Content-Length would leave a keep-alive client waiting for
 * bytes that never come. The file is closed on every path.
 */
export async function writeStaticResponse(plan: StaticResponse, res: ServerResponse): Promise<void> {
  const body = plan.body;
  if (body.kind !== 'file') {
    res.writeHead(plan.status, flatten(plan.headers));
    res.end(body.kind === 'buffer' ? body.data : undefined);
    return;
  }

  // Open before committing to a status: a file deleted since planning (or a
  // path that no longer names it) still gets an honest 404 instead of a
  // truncated 200.
  let fh: FileHandle | null;
  try {
    fh = await body.file.open();
  } catch {
    fh = null;
  }
  if (fh === null) {
    const gone = textResponse(404, res.req?.method ?? 'GET');
    res.writeHead(gone.status, flatten(gone.headers));
    res.end(gone.body.kind === 'buffer' ? gone.body.data : undefined);
    return;
  }
  // node:http marks the response destroyed when the client has gone; its
  // 'close' has fired already and would never reach the listener below.
  if (res.destroyed) {
    await fh.close();
    return;
  }
  res.writeHead(plan.status, flatten(plan.headers));
  return streamFile(fh, res, body.file.path, body.start, body.end);
}

function streamFile(fh: FileHandle, res: ServerResponse, path: string, start: number, end: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // The stream owns the handle: destroying or ending it closes the file.
    const stream = fh.createReadStream({ start, end });
    const expected = end - start + 1;
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    // Before we end it, a response only closes because the client went away.
    const onClose = () => {
      stream.destroy();
      settle();
    };
    res.on('close', onClose);
    stream.on('error', (err) => {
      res.destroy();
      settle(err);
    });
    stream.on('end', () => {
      if (stream.bytesRead !== expected) {
        res.destroy(); // the file shrank between plan and read
        settle(new Error(`${path} changed while being sent: ${stream.bytesRead} of ${expected} bytes`));
        return;
      }
      res.end();
      settle();
    });
    // pipe pauses the file while the socket's buffer is full (backpressure);
    // end: false so we can check the length before ending the response.
    stream.pipe(res, { end: false });
  });
}

function flatten(headers: Array<[string, string]>): string[] {
  const flat = new Array<string>(headers.length * 2);
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    flat[i * 2] = name;
    flat[i * 2 + 1] = value;
  }
  return flat;
}
