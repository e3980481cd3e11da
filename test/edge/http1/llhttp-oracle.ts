// node:http (llhttp, strict mode) as an oracle: one server on 127.0.0.1:0,
// a fresh TCP connection per message, and a record of what the server's
// request handler saw for that connection.

import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';

export interface OracleRequest {
  readonly method: string;
  readonly url: string;
  /** rawHeaders as node gives them: [name, value, ...], names as sent. */
  readonly rawHeaders: string[];
  readonly body: Buffer;
  /** True when the body ended normally ('end'), false if the message was cut off or refused mid-body. */
  readonly complete: boolean;
}

export interface OracleOutcome {
  /** Requests the handler saw on this connection, in order (pipelined ones after the first). */
  readonly requests: OracleRequest[];
  /** llhttp's error code when node reported a client error (HPE_...), else null. */
  readonly clientError: string | null;
  /** The response bytes the server wrote, as latin1 (400/417/... or our handler's 200). */
  readonly response: string;
  readonly timedOut: boolean;
}

interface MutableRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  chunks: Buffer[];
  complete: boolean;
}

interface ConnectionRecord {
  requests: MutableRequest[];
  clientError: string | null;
}

export class LlhttpOracle {
  readonly #server: http.Server;
  readonly #byPort = new Map<number, ConnectionRecord>();
  #port = 0;

  private constructor() {
    this.#server = http.createServer({
      insecureHTTPParser: false,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      keepAliveTimeout: 1000,
    });
    this.#server.on('connection', (socket: net.Socket) => {
      this.#byPort.set(socket.remotePort!, { requests: [], clientError: null });
    });
    this.#server.on('request', (req, res) => {
      const rec = this.#byPort.get(req.socket.remotePort!);
      const entry: MutableRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders.slice(),
        chunks: [],
        complete: false,
      };
      rec?.requests.push(entry);
      req.on('data', (chunk: Buffer) => entry.chunks.push(chunk));
      req.on('end', () => {
        entry.complete = true;
        res.writeHead(200, { 'content-length': '0' }).end();
      });
      req.on('error', () => {});
    });
    // Upgrade requests are recorded by head only; the test does not send them on purpose.
    this.#server.on('upgrade', (req, socket: net.Socket) => {
      this.#byPort.get(socket.remotePort!)?.requests.push({
        method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders.slice(), chunks: [], complete: true,
      });
      socket.destroy();
    });
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      const rec = this.#byPort.get(socket.remotePort!);
      if (rec !== undefined && rec.clientError === null) rec.clientError = err.code ?? err.message;
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  static async start(): Promise<LlhttpOracle> {
    const oracle = new LlhttpOracle();
    oracle.#server.listen(0, '127.0.0.1');
    await once(oracle.#server, 'listening');
    oracle.#port = (oracle.#server.address() as net.AddressInfo).port;
    return oracle;
  }

  /** Writes `raw` on a new connection, half-closes, and waits until the server closes it. */
  async send(raw: Buffer, timeoutMs = 2000): Promise<OracleOutcome> {
    const socket = net.connect(this.#port, '127.0.0.1');
    await once(socket, 'connect');
    const port = socket.localPort!;
    const response: Buffer[] = [];
    socket.on('data', (d: Buffer) => response.push(d));
    socket.on('error', () => {});
    let timedOut = false;
    const closed = once(socket, 'close');
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.end(raw);
    await closed;
    clearTimeout(timer);
    // Let the server's pending 'end'/'close' callbacks for this connection run.
    await new Promise((r) => setImmediate(r));
    const rec = this.#byPort.get(port);
    this.#byPort.delete(port);
    return {
      requests: (rec?.requests ?? []).map((r) => ({
        method: r.method, url: r.url, rawHeaders: r.rawHeaders, body: Buffer.concat(r.chunks), complete: r.complete,
      })),
      clientError: rec?.clientError ?? null,
      response: Buffer.concat(response).toString('latin1'),
      timedOut,
    };
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
