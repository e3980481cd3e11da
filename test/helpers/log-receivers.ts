// Real log receivers for drain tests: a syslog server over TCP or TLS that
// parses RFC 6587 octet-counted frames and RFC 5424 messages, and an HTTPS
// server that collects POSTed JSON lines. Both listen on 127.0.0.1:0.
import { once } from 'node:events';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export interface SyslogRecord {
  readonly pri: number;
  readonly version: number;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId: string;
  readonly structuredData: string;
  readonly message: string;
}

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG` (berth sends nil structured data). */
export function parseRfc5424(text: string): SyslogRecord {
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\])(?: ([\s\S]*))?$/.exec(text);
  if (m === null) throw new Error(`not an RFC 5424 message: ${JSON.stringify(text)}`);
  return { pri: Number(m[1]), version: Number(m[2]), timestamp: m[3]!, hostname: m[4]!, appName: m[5]!, procId: m[6]!, msgId: m[7]!, structuredData: m[8]!, message: m[9] ?? '' };
}

/** Splits a stream of octet-counted frames (`LEN SP MSG`, LEN in bytes); throws on anything else. */
export class OctetCountingParser {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const messages: string[] = [];
    for (;;) {
      const space = this.#buffer.indexOf(0x20);
      if (space === -1) {
        if (this.#buffer.length > 10) throw new Error('no frame length within 10 bytes');
        return messages;
      }
      const lengthText = this.#buffer.toString('ascii', 0, space);
      if (!/^[1-9]\d{0,8}$/.test(lengthText)) throw new Error(`bad frame length ${JSON.stringify(lengthText)}`);
      const length = Number(lengthText);
      if (this.#buffer.length < space + 1 + length) return messages;
      messages.push(this.#buffer.toString('utf8', space + 1, space + 1 + length));
      this.#buffer = this.#buffer.subarray(space + 1 + length);
    }
  }
}

export interface SyslogReceiver {
  readonly port: number;
  readonly messages: SyslogRecord[];
  readonly connections: number;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/** A syslog receiver over plain TCP, or over TLS when given a certificate. */
export async function startSyslogReceiver(tls?: { cert: string; key: string }, port = 0): Promise<SyslogReceiver> {
  const messages: SyslogRecord[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const onSocket = (socket: Socket) => {
    connections++;
    sockets.add(socket);
    const parser = new OctetCountingParser();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const text of parser.push(chunk)) messages.push(parseRfc5424(text));
      } catch (err) {
        messages.push({ pri: -1, version: 0, timestamp: '', hostname: '', appName: '', procId: 'PARSE-ERROR', msgId: '', structuredData: '', message: (err as Error).message });
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, onSocket) : createNetServer(onSocket);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    get connections() {
      return connections;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

export interface HttpsReceiver {
  readonly url: string;
  readonly port: number;
  /** Every JSON line received, parsed, in order. */
  readonly lines: any[];
  readonly requests: Array<{ readonly headers: Record<string, string | string[] | undefined>; readonly lines: number }>;
  /** The status the next requests get (default 200). */
  status: number;
  close(): Promise<void>;
}

export async function startHttpsReceiver(tls: { cert: string; key: string }, path = '/ingest'): Promise<HttpsReceiver> {
  const receiver: HttpsReceiver & { server?: HttpsServer } = {
    url: '',
    port: 0,
    lines: [],
    requests: [],
    status: 200,
    close: async () => {},
  };
  const server = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const status = req.method === 'POST' && req.url?.startsWith(path) ? receiver.status : 404;
      if (status >= 200 && status < 300) {
        const lines = body.split('\n').filter((line) => line !== '');
        receiver.requests.push({ headers: req.headers, lines: lines.length });
        for (const line of lines) receiver.lines.push(JSON.parse(line));
      }
      res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  Object.assign(receiver, {
    url: `https://127.0.0.1:${port}${path}`,
    port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return receiver;
}
