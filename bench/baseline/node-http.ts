// The node:http baseline: what plain Node does with the same two cores,
// without berth. A cluster of one worker per core; static files are read into
// memory at start and answered from there, proxying is http.request through a
// keep-alive Agent piped back to the client. Deliberately plain: no caching
// headers, no conditional requests, no ranges, no error pages beyond 404/502.
//
// usage:
//   node bench/baseline/node-http.ts static --root DIR --listen 127.0.0.1:PORT
//   node bench/baseline/node-http.ts proxy --to 127.0.0.1:UPORT --listen 127.0.0.1:PORT
import cluster from 'node:cluster';
import { readdir, readFile } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface Address {
  readonly host: string;
  readonly port: number;
}

function parseAddress(text: string | undefined, flag: string): Address {
  const match = /^([\d.]+):(\d+)$/.exec(text ?? '');
  if (!match) throw new Error(`${flag} HOST:PORT is required`);
  return { host: match[1]!, port: Number(match[2]) };
}

const TYPES: Record<string, string> = { '.txt': 'text/plain', '.html': 'text/html', '.json': 'application/json' };

async function staticHandler(root: string): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of await readdir(root)) {
    const extension = name.slice(name.lastIndexOf('.'));
    files.set(`/${name}`, { body: await readFile(join(root, name)), type: TYPES[extension] ?? 'application/octet-stream' });
  }
  return (req, res) => {
    const file = files.get(req.url ?? '');
    if (!file) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };
}

function proxyHandler(to: Address): (req: IncomingMessage, res: ServerResponse) => void {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  return (req, res) => {
    const headers = { ...req.headers };
    delete headers.connection;
    const upstream = request({ host: to.host, port: to.port, method: req.method, path: req.url, headers, agent }, (upstreamRes) => {
      const responseHeaders = { ...upstreamRes.headers };
      delete responseHeaders.connection;
      delete responseHeaders['keep-alive'];
      res.writeHead(upstreamRes.statusCode ?? 502, responseHeaders);
      upstreamRes.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
      res.end();
    });
    req.pipe(upstream);
  };
}

async function worker(mode: string, values: { root?: string; to?: string; listen?: string }): Promise<void> {
  const listen = parseAddress(values.listen, '--listen');
  const handler =
    mode === 'static'
      ? await staticHandler(values.root ?? '')
      : proxyHandler(parseAddress(values.to, '--to'));
  createServer({ keepAliveTimeout: 75_000, requestTimeout: 0 }, handler).listen(listen.port, listen.host);
}

function primary(listen: string | undefined): void {
  const workers = availableParallelism();
  let listening = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) process.stdout.write(`listening on http://${listen} with ${workers} workers\n`);
  });
  cluster.on('exit', (_worker, code, signal) => {
    if (!stopping) {
      process.stderr.write(`worker exited (${signal ?? code}); stopping\n`);
      stop();
    }
  });
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const child of Object.values(cluster.workers ?? {})) child?.process.kill('SIGTERM');
    const check = setInterval(() => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    }, 20);
    setTimeout(() => process.exit(0), 3_000).unref();
    check.unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { root: { type: 'string' }, to: { type: 'string' }, listen: { type: 'string' } },
});
const mode = positionals[0];
if (mode !== 'static' && mode !== 'proxy') throw new Error('usage: node-http.ts static|proxy --listen HOST:PORT (--root DIR | --to HOST:PORT)');
if (cluster.isPrimary) primary(values.listen);
else await worker(mode, values);
