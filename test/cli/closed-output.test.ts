// The reader of berth's output goes away early (`berth apps list | head -1`):
// the real CLI, its stdout a pipe whose reading end the test closes. A
// command that prints ends quietly with status 0 (no EPIPE stack trace);
// a serving one keeps serving with its output dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MAIN } from '../helpers/berth-process.ts';
import { GOOD_TOKEN, startFakeDaemon } from './remote/fake-daemon.ts';
import { tempDir, testEnv } from './remote/run-berth.ts';

/** Runs the real CLI with its stdout a pipe the test reads, and its stderr captured. */
function start(args: readonly string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null, err }));
  return { child, exited };
}

/** Kills the process after `ms` unless it has exited (for t.after and bounds). */
function bound(child: ReturnType<typeof spawn>, ms: number): NodeJS.Timeout {
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  timer.unref();
  return timer;
}

test('a command that prints ends quietly with status 0 when its reader has gone', async (t) => {
  const daemon = await startFakeDaemon(t);
  for (const name of ['blog', 'shop', 'wiki']) daemon.apps.set(name, { name, createdAt: '2026-01-02T03:04:05.678Z', releases: [], config: {}, formation: {}, domains: [] });
  const env = await testEnv(t, { url: daemon.url, token: GOOD_TOKEN });
  // `logs -f` would follow for ever: the closed reader is what ends it.
  for (const args of [['apps', 'list'], ['apps', 'list', '--json'], ['logs', '-f', '--app', 'shop']]) {
    const berth = start(args, env);
    t.after(() => berth.child.kill('SIGKILL'));
    // The reading end closes before berth has written anything (Node's start alone takes longer).
    berth.child.stdout.destroy();
    bound(berth.child, 30_000);
    const result = await berth.exited;
    assert.deepEqual(result, { code: 0, signal: null, err: '' }, `berth ${args.join(' ')}`);
  }
});

test('berth up keeps serving when the reader of its output has gone, and stops cleanly', { timeout: 120_000 }, async (t) => {
  const app = await tempDir(t, 'berth-closed-output-');
  await mkdir(app, { recursive: true });
  await writeFile(join(app, 'Procfile'), 'web: node server.js\n');
  // Every request writes a line, which berth passes on to its closed output.
  await writeFile(join(app, 'server.js'), "require('node:http').createServer((req, res) => { console.log('got ' + req.url); res.end('hello\\n'); }).listen(process.env.PORT, '127.0.0.1');\n");
  const berth = start(['up', app, '--listen', '127.0.0.1:0', '--sandbox', 'off', '--workers', '1'], { HOME: app });
  t.after(() => berth.child.kill('SIGKILL'));
  bound(berth.child, 110_000);

  // Like `head`: read until the edge's address, then close the pipe.
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    berth.child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /edge listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void berth.exited.then((result) => reject(new Error(`berth up exited:\n${out}${result.err}`)));
  });
  berth.child.stdout.destroy();

  // Until web.1 is ready the edge answers 502; each 200 made web.1 write a line.
  let served = 0;
  for (let i = 0; i < 600 && served < 3; i++) {
    const response = await fetch(`${url}/${i}`).catch(() => null);
    if (response?.status === 200) {
      assert.equal(await response.text(), 'hello\n');
      served++;
    } else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(served, 3, 'berth up served three requests after its output closed');
  assert.equal(berth.child.exitCode, null, 'berth up is still running');

  berth.child.kill('SIGTERM');
  const result = await berth.exited;
  assert.equal(result.code, 0, result.err);
  assert.doesNotMatch(result.err, /EPIPE|Error/);
});
