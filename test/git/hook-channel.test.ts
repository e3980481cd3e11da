import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookChannel, type Push } from '../../src/git/hook-channel.ts';
import type { RefUpdate } from '../../src/git/index.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

/** Talks to the channel as a hook would: one hello line, then every line until the daemon ends. */
function hook(path: string, hello: string): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path, allowHalfOpen: true });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      socket.end();
      resolve(text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>));
    });
    socket.on('error', reject);
    socket.write(hello);
  });
}

async function channel(t: { after(fn: () => unknown): void }, helloTimeoutMs?: number) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-hook-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const calls: Array<{ push: Push; updates: readonly RefUpdate[] }> = [];
  const socketPath = join(dir, 'run', 'git-hook.sock');
  const hooks = await HookChannel.listen({
    socketPath,
    log: () => {},
    helloTimeoutMs,
    handler: async (push, updates, conversation) => {
      calls.push({ push, updates });
      conversation.line('checking');
      return 'all good';
    },
  });
  t.after(() => hooks.close());
  return { dir, socketPath, hooks, calls };
}

test('the socket is 0600 in a 0700 folder, and a second daemon on the same state is refused', async (t) => {
  const { dir, socketPath } = await channel(t);
  assert.equal((await stat(socketPath)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'run'))).mode & 0o777, 0o700);
  await assert.rejects(HookChannel.listen({ socketPath, log: () => {}, handler: async () => '' }), { code: 'BERTH_E_LISTEN', message: /another berth server/ });
});

test('a hook with its push secret is heard once; replays, wrong or forgotten secrets are refused', async (t) => {
  const { socketPath, hooks, calls } = await channel(t);
  const session = hooks.open({ app: 'shop', actor: 'ssh:alice' });
  assert.equal(session.env.BERTH_HOOK_SOCKET, socketPath);
  const secret = session.env.BERTH_PUSH!;
  assert.match(secret, /^[0-9a-f]{24}\.[0-9a-f]{64}$/);
  const hello = (push: string) => `${JSON.stringify({ push, updates: `${A} ${B} refs/heads/main\n` })}\n`;

  const first = await hook(socketPath, hello(secret));
  assert.deepEqual(first, [{ line: 'checking' }, { done: true, ok: true, message: 'all good' }]);
  assert.deepEqual(calls, [{ push: { app: 'shop', actor: 'ssh:alice' }, updates: [{ oldRev: A, newRev: B, ref: 'refs/heads/main' }] }]);

  const [id] = secret.split('.');
  const refusals = [
    hello(secret), // replayed
    hello(`${id}.${'0'.repeat(64)}`), // wrong secret
    hello('nope'),
    hello(''),
    'not json\n',
    `${JSON.stringify({ push: 1 })}\n`,
  ];
  const other = hooks.open({ app: 'shop', actor: 'ci' });
  other.close();
  refusals.push(hello(other.env.BERTH_PUSH!)); // forgotten: its receive-pack ended
  for (const text of refusals) {
    const answer = await hook(socketPath, text);
    assert.equal(answer.length, 1, text);
    assert.equal(answer[0]!.ok, false, text);
    assert.match(String(answer[0]!.message), /refused/);
  }
  // Malformed ref updates are refused even with a good secret.
  const third = hooks.open({ app: 'shop', actor: 'ci' });
  const malformed = await hook(socketPath, `${JSON.stringify({ push: third.env.BERTH_PUSH, updates: 'x y z\n' })}\n`);
  assert.equal(malformed[0]!.ok, false);
  assert.equal(calls.length, 1);
});

test('a hook that says nothing is cut after the hello timeout', async (t) => {
  const { socketPath } = await channel(t, 200);
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const socket = connect({ path: socketPath });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
  assert.ok(Date.now() - started < 5_000);
});
