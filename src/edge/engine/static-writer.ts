import type { FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { StaticFile } from '../static/index.ts';
import { cannedResponse } from './canned.ts';

/**
 * Writes a response head and a byte range of a file to the socket, with
 * backpressure. The file is opened (through its site's checks) before the
 * head is written, so a file removed since planning, or a path that no
 * longer names it, gets an honest 404 rather than a broken 200.
 * Rejects when the file could not be read in full after the head was sent:
 * the caller must then cut the connection, since the client was promised
 * Content-Length bytes.
 */
export async function writeFileBody(socket: Socket, head: string, source: StaticFile, start: number, end: number): Promise<void> {
  let file: FileHandle | null;
  try {
    file = await source.open();
  } catch {
    file = null;
  }
  if (file === null) {
    socket.write(cannedResponse(404, false));
    return;
  }
  try {
    socket.write(head, 'latin1');
    const stream = file.createReadStream({ start, end, autoClose: false, highWaterMark: 256 * 1024 });
    let sent = 0;
    await new Promise<void>((resolve, reject) => {
      const onClose = () => {
        stream.destroy();
        reject(new Error('client went away'));
      };
      socket.once('close', onClose);
      stream.on('data', (chunk) => {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          stream.pause();
          socket.once('drain', () => stream.resume());
        }
      });
      stream.once('error', (err) => {
        socket.off('close', onClose);
        reject(err);
      });
      stream.once('end', () => {
        socket.off('close', onClose);
        if (sent !== end - start + 1) reject(new Error('file changed while it was sent'));
        else resolve();
      });
    });
  } finally {
    await file.close().catch(() => {});
  }
}
