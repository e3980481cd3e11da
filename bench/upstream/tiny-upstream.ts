// The upstream every proxy in the benchmark forwards to: the same process,
// the same responses, for nginx, berth, Caddy and the node:http baseline.
//
// It must never be the bottleneck, so it does as little as an HTTP server can:
// a bare node:net server that finds the end of each request head
// ("\r\n\r\n"), looks only at how the head starts ("GET /1mb ", "GET /cached ")
// and writes one of three prebuilt keep-alive responses. No header parsing, no
// bodies (the benchmark sends GETs only), no allocation per response. It
// counts what it answers, so the harness can check that a proxy's cache hits
// really never reach it; "GET /__bench/stats " answers those counts.
//
// One process, not a cluster of two: the two cores already carry wrk and the
// proxy's two workers, and a loop this thin answers far more requests per
// second on a fraction of one core than any proxy in front of it can pass on;
// a second process would add context switches, not capacity. The harness
// checks that claim on every run: it measures this upstream alone and its CPU
// use during each proxy run, and prints both.
//
// Why not a second nginx with `return 200`: it would work as well for the
// tiny response, but nginx would then run on both sides of the nginx proxy
// runs, and a 1 MiB answer would need a file; this server is the same code
// path for every contender and answers /1mb from one buffer.
//
// usage: node bench/upstream/tiny-upstream.ts --listen 127.0.0.1:PORT
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { CACHE_CONTROL, CACHED_BODY, CACHED_PATH, LARGE_BODY_BYTES, LARGE_PATH, STATS_PATH, TINY_BODY, type UpstreamCounts } from './responses.ts';

const TINY = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${TINY_BODY.length}\r\nContent-Type: text/plain\r\n\r\n${TINY_BODY}`, 'latin1');
const LARGE = Buffer.concat([
  Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${LARGE_BODY_BYTES}\r\nContent-Type: application/octet-stream\r\n\r\n`, 'latin1'),
  Buffer.alloc(LARGE_BODY_BYTES, 'x'),
]);
const CACHED = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${CACHED_BODY.length}\r\nContent-Type: text/plain\r\nCache-Control: ${CACHE_CONTROL}\r\n\r\n${CACHED_BODY}`, 'latin1');
const LARGE_REQUEST_LINE = `GET ${LARGE_PATH} `;
const CACHED_REQUEST_LINE = `GET ${CACHED_PATH} `;
const STATS_REQUEST_LINE = `GET ${STATS_PATH} `;
/** A head that has not ended after this many bytes is not from a proxy we test. */
const MAX_PENDING = 64 * 1024;

function main(): void {
  const { values } = parseArgs({ options: { listen: { type: 'string' } } });
  const match = /^([\d.]+):(\d+)$/.exec(values.listen ?? '');
  if (!match) throw new Error('usage: tiny-upstream.ts --listen HOST:PORT');

  const counts = { requests: 0, cached: 0 };
  const respond = (text: string, start: number): Buffer => {
    counts.requests++;
    if (text.startsWith(LARGE_REQUEST_LINE, start)) return LARGE;
    if (text.startsWith(CACHED_REQUEST_LINE, start)) {
      counts.cached++;
      return CACHED;
    }
    if (text.startsWith(STATS_REQUEST_LINE, start)) {
      const body = JSON.stringify(counts satisfies UpstreamCounts);
      return Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n${body}`, 'latin1');
    }
    return TINY;
  };

  const server = createServer({ noDelay: true }, (socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      const text = pending + chunk.toString('latin1');
      let start = 0;
      for (let end = text.indexOf('\r\n\r\n'); end !== -1; end = text.indexOf('\r\n\r\n', start)) {
        socket.write(respond(text, start));
        start = end + 4;
      }
      pending = text.slice(start);
      if (pending.length > MAX_PENDING) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(Number(match[2]), match[1], () => process.stdout.write(`listening on http://${values.listen}\n`));
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
