// A small app with no dependencies: greets, echoes request bodies, reports
// which instance answered, and can be told to crash (for berth's tests).
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 3000);
const instance = process.env.BERTH_INSTANCE ?? 'web';

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (url.pathname === '/echo') {
    // Streams the body back as it arrives, so uploads of any size pass.
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  if (url.pathname === '/count') {
    let bytes = 0;
    req.on('data', (chunk) => (bytes += chunk.length));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes })));
    return;
  }
  if (url.pathname === '/headers') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
    return;
  }
  if (url.pathname === '/whoami') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ instance, pid: process.pid }));
    return;
  }
  if (url.pathname === '/slow') {
    const ms = Math.min(Number(url.searchParams.get('ms') ?? 1000), 60_000);
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(`slept ${ms}ms\n`), ms);
    return;
  }
  if (url.pathname === '/crash') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('crashing\n', () => process.exit(1));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>node-hello</title><h1>Hello from ${instance}</h1>\n`);
});

server.listen(port, '127.0.0.1', () => console.log(`node-hello listening on 127.0.0.1:${port}`));

// Finish in-flight requests on SIGTERM, as a well-behaved app should.
process.on('SIGTERM', () => {
  console.log('SIGTERM: finishing in-flight requests');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
