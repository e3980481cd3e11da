// The other end of the route-push measurement (a spike, not product code):
// listens on a Unix socket, reads newline-delimited JSON route tables,
// parses each and answers `{"ok":N}` (N: the routes it now holds), as a
// separate edge process would when its control plane configures it.
//
//   node route-receiver.ts SOCKET_PATH
import { createServer } from 'node:net';

const path = process.argv[2]!;
let routes: unknown[] = [];
const server = createServer((socket) => {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const table = JSON.parse(line) as { routes: unknown[] };
      routes = table.routes;
      socket.write(`${JSON.stringify({ ok: routes.length })}\n`);
    }
  });
});
server.listen(path, () => process.stdout.write(`receiving on ${path}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
