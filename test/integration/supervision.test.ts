import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, alive, eventually, runBerth } from '../helpers/berth-process.ts';
import { descendants } from '../helpers/processes.ts';

async function app(t: { after(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-app-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

const SERVER = `
import { createServer } from 'node:http';
const started = Date.now();
const readyAfter = Number(process.env.READY_AFTER_MS ?? 0);
const server = createServer((req, res) => {
  if (req.url === '/health') return res.writeHead(Date.now() - started >= readyAfter ? 200 : 503).end();
  if (req.url.startsWith('/slow')) return setTimeout(() => res.end('slow done'), 1500);
  res.end('hello from ' + process.env.BERTH_INSTANCE);
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

test('a process that keeps crashing is reported as a crash loop and restarted ever more slowly', async (t) => {
  const dir = await app(t, { Procfile: 'web: node server.mjs\nworker: node -e "process.exit(3)"\n', 'server.mjs': SERVER });
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  await berth.waitFor(/worker\.1 crash loop: exited with code 3, 5 times in a row/, 30_000);
  const starts = berth.output.match(/worker\.1 started/g)!.length;
  // 250ms, 500ms, 1s, 2s, 4s…: a loop spinning at full speed would have started hundreds of times.
  assert.ok(starts <= 7, `worker started ${starts} times`);
  assert.match(berth.output, /worker\.1 crashed \(code 3\); restarting in 250ms/);
  assert.match(berth.output, /worker\.1 crashed \(code 3\); restarting in 500ms/);
  // The web process is unaffected.
  const res = await fetch(`${await berth.url()}/`);
  assert.equal(await res.text(), 'hello from web.1');
});

test('an instance takes traffic only once its health path answers 2xx', async (t) => {
  const dir = await app(t, { Procfile: 'web: node server.mjs\n', 'server.mjs': SERVER, 'berth.toml': '[health]\npath = "/health"\n' });
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0'], { env: { READY_AFTER_MS: '4000' } });
  t.after(() => berth.kill());
  const url = await berth.url();
  await berth.waitFor(/web\.1 started/);
  const early = await fetch(`${url}/`);
  assert.equal(early.status, 502);
  assert.match(await early.text(), /no instance of the app is ready/);
  await berth.waitFor(/web\.1 ready/, 20_000);
  // The route to the new instance is in force in every engine a moment after the log line.
  await eventually('the ready instance takes traffic', async () => (await fetch(`${url}/`)).status === 200, 5_000);
});

test('stopping lets in-flight requests finish, then stops the whole process group', async (t) => {
  // The shell forks a grandchild that ignores SIGTERM: it must still be gone after stop.
  const dir = await app(t, {
    Procfile: "web: node server.mjs\nhelper: sh -c 'trap \"\" TERM; sleep 300 & wait'\n",
    'server.mjs': SERVER,
  });
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0', '--grace', '3s']);
  t.after(() => berth.kill());
  const url = await berth.url();
  await berth.waitFor(/web\.1 ready/);
  await eventually('the helper has forked its sleep', () => descendants(berth.child.pid!).length >= 3);
  const children = descendants(berth.child.pid!);
  const slow = fetch(`${url}/slow`).then(async (res) => [res.status, await res.text()] as const);
  await new Promise((resolve) => setTimeout(resolve, 200));
  berth.child.kill('SIGINT');
  assert.deepEqual(await slow, [200, 'slow done']);
  const { code } = await berth.exited;
  assert.equal(code, 0);
  await eventually('no descendant survives', () => children.every((pid) => !alive(pid)), 10_000);
});

test('a folder berth cannot run gets a clear error and a non-zero exit', async (t) => {
  const dir = await app(t, { 'notes.txt': 'nothing to run' });
  const { code, output } = await runBerth(['up', dir, '--listen', '127.0.0.1:0']);
  assert.equal(code, 1);
  assert.match(output, /berth: cannot tell how to run the app in .* \[BERTH_E_APP_UNDETECTED\]/);
  assert.match(output, /hint: berth looked for: a Procfile/);
});

test('bad command lines get a one-line error and a non-zero exit', async () => {
  for (const args of [
    ['up', '.', '--listen', 'nonsense:port'],
    ['up', '.', '--scale', 'web=lots'],
    ['reverse-proxy', '--from', '127.0.0.1:0'],
    ['reverse-proxy', '--from', '127.0.0.1:0', '--to', 'nohost'],
    ['file-server', '--root', '/nonexistent/berth-root', '--listen', '127.0.0.1:0'],
    ['frobnicate'],
  ]) {
    const { code, output } = await runBerth(args);
    assert.notEqual(code, 0, `${args.join(' ')} exited 0`);
    assert.match(output, /error|berth:/i, `${args.join(' ')} printed: ${output}`);
  }
});

test('--help works on every command', async () => {
  for (const args of [['--help'], ['up', '--help'], ['file-server', '--help'], ['reverse-proxy', '--help']]) {
    const { code, output } = await runBerth(args);
    assert.equal(code, 0);
    assert.match(output, /Usage: berth/);
  }
});
