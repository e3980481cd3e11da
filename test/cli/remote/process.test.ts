import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { GOOD_TOKEN, startFakeDaemon } from './fake-daemon.ts';
import { testEnv } from './run-berth.ts';

const MAIN = fileURLToPath(new URL('./remote-main.ts', import.meta.url));

function start(args: readonly string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null, out, err }));
  return { child, exited, output: () => out };
}

test('a real berth process exits as soon as a command is done (no kept-alive connection holds it)', async (t) => {
  const daemon = await startFakeDaemon(t);
  const env = await testEnv(t, { url: daemon.url, token: GOOD_TOKEN });
  const started = Date.now();
  const result = await start(['apps', 'list', '--json'], env).exited;
  assert.equal(result.code, 0, result.err);
  assert.deepEqual(JSON.parse(result.out), { apps: [] });
  // Node's start-up is most of it; a kept-alive socket would add seconds.
  assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
});

test('Ctrl-C (SIGINT) ends berth logs -f cleanly: exit status 0, nothing on stderr', async (t) => {
  const daemon = await startFakeDaemon(t);
  daemon.apps.set('shop', { name: 'shop', createdAt: '2026-01-02T03:04:05.678Z', releases: [], config: {}, formation: {}, domains: [] });
  const env = await testEnv(t, { url: daemon.url, token: GOOD_TOKEN });
  const berth = start(['logs', '-f', '--app', 'shop'], env);
  t.after(() => berth.child.kill('SIGKILL'));
  for (let i = 0; i < 500 && !berth.output().includes('worker.1 | tick'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  berth.child.kill('SIGINT');
  const result = await berth.exited;
  assert.deepEqual({ code: result.code, signal: result.signal, err: result.err }, { code: 0, signal: null, err: '' });
  assert.match(result.out, /web\.1 \| listening\n.*\n.*worker\.1 \| tick\n$/);
});
