// The spike's tiny HTTP server (not product code): it answers after 10 ms
// (so requests are in flight when a handover comes) and, on SIGUSR2, hands
// its listening socket to a successor it spawns, over the child_process
// IPC channel (a Unix socket: the descriptor travels with SCM_RIGHTS).
// The old one then stops accepting and drains:
//   close-idle  Node's server.close(): idle keep-alive connections are
//               closed at once (a client may be sending on one just then)
//   next-close  the listener closes, idle connections stay; each gets its
//               next answer with `Connection: close` (as HAProxy's
//               idle-close-on-response does); what is still idle after
//               1 s is closed
// and exits once its connections are gone (at most 10 s).
// Every generation prints "serving pid=PID port=PORT" on stdout (inherited
// by successors), so the bench knows whom to signal next.
//
//   node handover-server.ts PORT close-idle|next-close
import { createServer, type Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { spawn } from 'node:child_process';

const port = Number(process.argv[2] ?? 0);
const strategy = process.argv[3] === 'close-idle' ? 'close-idle' : 'next-close';
let draining = false;

const server: Server = createServer((req, res) => {
  setTimeout(() => {
    if (draining) res.setHeader('connection', 'close');
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${process.pid}\n`);
  }, 10);
  req.resume();
});
server.keepAliveTimeout = 5_000;

function serving(): void {
  const address = server.address();
  const at = address && typeof address === 'object' ? address.port : port;
  process.stdout.write(`serving pid=${process.pid} port=${at}\n`);
}

if (process.send) {
  // A successor: the listening socket arrives over the IPC channel once it says it listens for it.
  process.once('message', (message, handle) => {
    if (message !== 'server' || !(handle instanceof NetServer)) process.exit(3);
    server.listen(handle, () => {
      serving();
      process.send!('took', () => process.disconnect());
    });
  });
  process.send('ready');
} else {
  server.listen(port, '127.0.0.1', serving);
}

function drain(): void {
  draining = true;
  if (strategy === 'close-idle') server.close();
  else {
    // net.Server's close only stops accepting; http.Server's would also close idle keep-alive connections now.
    NetServer.prototype.close.call(server);
    setTimeout(() => server.closeIdleConnections(), 1_000).unref();
  }
  const exitWhenDone = setInterval(() => {
    server.getConnections((err, count) => {
      if (err || count === 0) process.exit(0);
    });
  }, 20);
  setTimeout(() => {
    clearInterval(exitWhenDone);
    process.exit(0);
  }, 10_000).unref();
}

process.once('SIGUSR2', () => {
  const successor = spawn(process.execPath, [process.argv[1]!, String(port), strategy], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let took = false;
  successor.on('message', (message) => {
    if (message === 'ready') successor.send('server', server);
    else if (message === 'took') {
      took = true;
      drain();
    }
  });
  // A successor that dies before taking over leaves this one serving.
  successor.once('exit', () => {
    if (!took) process.stderr.write(`successor ${successor.pid} exited before taking over\n`);
  });
});

process.once('SIGTERM', () => server.close(() => process.exit(0)));
