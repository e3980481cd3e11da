// The apps the sandbox bench deploys, the same on both daemons. Each says
// when it starts listening, by the host's clock (CLOCK_REALTIME is not
// namespaced, so a sandboxed app's clock is the host's): a line
// `listening-at <epoch ms>` in its log. That splits an instance's start into
// berth's part and the app's own, without the readiness probe's steps.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchAppName } from './options.ts';

export const LISTENING_MARK = 'listening-at';

/** A node:http server with no dependencies (no install step): Procfile `web: node server.mjs`. */
const NODE_SERVER = `import { createServer } from 'node:http';
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello\\n');
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log(\`${LISTENING_MARK} \${(performance.timeOrigin + performance.now()).toFixed(1)}\`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** A bare WSGI function; gunicorn (Debian's, under /usr) reads ./gunicorn.conf.py, whose hook runs once the master listens. */
const WSGI_APP = `def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello\\n']
`;
const GUNICORN_CONF = `import time

def when_ready(server):
    print('${LISTENING_MARK} %.1f' % (time.time() * 1000), flush=True)
`;

export interface BenchApp {
  readonly name: BenchAppName;
  /** The berth app name (also its host: NAME.localhost). */
  readonly app: string;
  readonly dir: string;
  readonly description: string;
}

export function appName(name: BenchAppName): string {
  return `bench-${name}`;
}

/** Writes the app's folder under `root` (readable by anyone: berth packs it as root, nginx's upstream copy runs from it). */
export async function writeBenchApp(root: string, name: BenchAppName): Promise<BenchApp> {
  const dir = join(root, `app-${name}`);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  if (name === 'node') {
    await writeFile(join(dir, 'server.mjs'), NODE_SERVER, { mode: 0o644 });
    await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\n', { mode: 0o644 });
    return { name, app: appName(name), dir, description: 'node:http server (`web: node server.mjs`, no dependencies)' };
  }
  await writeFile(join(dir, 'app.py'), WSGI_APP, { mode: 0o644 });
  await writeFile(join(dir, 'gunicorn.conf.py'), GUNICORN_CONF, { mode: 0o644 });
  await writeFile(join(dir, 'Procfile'), 'web: gunicorn --bind 127.0.0.1:$PORT --workers 1 app:app\n', { mode: 0o644 });
  return { name, app: appName(name), dir, description: "WSGI function under Debian's gunicorn (`--workers 1`, no virtualenv)" };
}

/** The spinner app beside the node app in the neighbour part (neighbour.ts says what it runs). */
export async function writeSpinnerApp(root: string, files: Record<string, string>): Promise<{ app: string; dir: string }> {
  const dir = join(root, 'app-spinner');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o644 });
  return { app: 'bench-spinner', dir };
}

/** The argv that runs the node app on the host, plainly (nginx's upstream in the latency table). */
export function plainNodeApp(app: BenchApp): { command: string; args: string[] } {
  return { command: process.execPath, args: [join(app.dir, 'server.mjs')] };
}
