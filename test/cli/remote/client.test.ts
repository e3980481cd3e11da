import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { ApiClient, apiPath } from '../../../src/cli/remote/client.ts';
import { BerthError } from '../../../src/errors.ts';
import { GOOD_TOKEN, startFakeDaemon } from './fake-daemon.ts';
import { berth, testEnv } from './run-berth.ts';

type Coded = Error & { code?: string; hint?: string; status?: number };

/** A server that answers whatever the test says: for answers the fake daemon never gives. */
async function rawServer(t: { after(fn: () => unknown): void }, handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on: listen, note the port, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const Anything = z.object({ ok: z.boolean() });

test('calls carry the bearer token and JSON; answers are checked and kept as they came for --json', async (t) => {
  let seen: { auth?: string; type?: string; body?: string; url?: string } = {};
  const url = await rawServer(t, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      seen = { auth: req.headers.authorization, type: req.headers['content-type'], body, url: req.url };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok": true, "extra": [1]}');
    });
  });
  const client = new ApiClient({ server: url, token: 'tok' });
  const answer = await client.call('POST', apiPath('apps', 'a b/c'), Anything, { x: 1 });
  assert.deepEqual(answer.value, { ok: true });
  assert.deepEqual(answer.json, { ok: true, extra: [1] });
  assert.deepEqual(seen, { auth: 'Bearer tok', type: 'application/json', body: '{"x":1}', url: '/apps/a%20b%2Fc' });
});

test('an error answer keeps the server\'s code, message, hint and status', async (t) => {
  const url = await rawServer(t, (_req, res) => {
    res.writeHead(409, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'BERTH_E_APP_EXISTS', message: 'an app named shop already exists', hint: 'pick another name' }));
  });
  await assert.rejects(new ApiClient({ server: url, token: 't' }).call('POST', '/apps', Anything, { name: 'shop' }), (err: Coded) => {
    assert.equal(err.code, 'BERTH_E_APP_EXISTS');
    assert.equal(err.message, 'an app named shop already exists');
    assert.equal(err.hint, 'pick another name');
    assert.equal(err.status, 409);
    return true;
  });
});

test('a code this CLI does not know (a newer daemon) is passed on as it is; escape sequences are shown, not obeyed', async (t) => {
  const url = await rawServer(t, (_req, res) => {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'BERTH_E_FROM_THE_FUTURE', message: 'new \u001b[31mthing\u001b[0m\nhappened' }));
  });
  await assert.rejects(new ApiClient({ server: url, token: 't' }).call('GET', '/apps', Anything), (err: Coded) => {
    assert.equal(err.code, 'BERTH_E_FROM_THE_FUTURE');
    assert.equal(err.message, 'new \\x1b[31mthing\\x1b[0m\\nhappened');
    assert.equal(err.hint, undefined);
    return true;
  });
});

test('401: the server\'s message and hint are printed, exit 1', async (t) => {
  const daemon = await startFakeDaemon(t);
  const run = await berth(['apps', 'list'], { env: await testEnv(t, { url: daemon.url, token: 'revoked-token' }) });
  assert.equal(run.code, 1);
  assert.equal(run.out, '');
  assert.equal(run.err, 'berth: the API token is not valid [BERTH_E_UNAUTHORIZED]\nhint: Log in with `berth login --server URL --token TOKEN` (or set BERTH_TOKEN).\n');
});

test('a 401 without a hint still says how to log in', async (t) => {
  const url = await rawServer(t, (_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'BERTH_E_UNAUTHORIZED', message: 'no' }));
  });
  await assert.rejects(new ApiClient({ server: url, token: 't' }).call('GET', '/apps', Anything), (err: Coded) => err.code === 'BERTH_E_UNAUTHORIZED' && /berth login/.test(err.hint ?? ''));
});

test('a refused connection is "cannot reach the berth server at URL", with a hint to check berth login', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const run = await berth(['apps', 'list'], { env: await testEnv(t, { url, token: 'x' }) });
  assert.equal(run.code, 1);
  const [first, second] = run.err.split('\n');
  assert.equal(first, `berth: cannot reach the berth server at ${url} (ECONNREFUSED) [BERTH_E_UNREACHABLE]`);
  assert.match(second!, /^hint: Check that `berth server` is running there .*berth login --server URL --token TOKEN/);
});

test('an answer that is not the API\'s is BERTH_E_BAD_RESPONSE: a proxy error page, non-JSON, JSON of another shape', async (t) => {
  const answers: Record<string, [number, string]> = {
    '/proxy': [502, '<html>Bad Gateway</html>'],
    '/text': [200, 'hello'],
    '/shape': [200, '{"ok": "yes"}'],
  };
  const url = await rawServer(t, (req, res) => {
    const [status, body] = answers[req.url!]!;
    res.writeHead(status);
    res.end(body);
  });
  const client = new ApiClient({ server: url, token: 't' });
  await assert.rejects(client.call('GET', '/proxy', Anything), (err: Coded) => err.code === 'BERTH_E_BAD_RESPONSE' && err.message === `the server at ${url} answered 502 Bad Gateway, which is not a berth API answer`);
  await assert.rejects(client.call('GET', '/text', Anything), (err: Coded) => err.code === 'BERTH_E_BAD_RESPONSE' && /not JSON/.test(err.message));
  await assert.rejects(client.call('GET', '/shape', Anything), (err: Coded) => err.code === 'BERTH_E_BAD_RESPONSE' && /ok: /.test(err.message) && /--api address/.test(err.hint ?? ''));
});

test('a connection closed without an answer, or in the middle of one, is BERTH_E_CONNECTION_LOST', async (t) => {
  const url = await rawServer(t, (req, res) => {
    if (req.url === '/half') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"ok":');
      setImmediate(() => res.destroy());
      return;
    }
    req.socket.destroy();
  });
  const client = new ApiClient({ server: url, token: 't' });
  await assert.rejects(client.call('GET', '/none', Anything), (err: Coded) => err.code === 'BERTH_E_CONNECTION_LOST' && /closed the connection without answering/.test(err.message));
  await assert.rejects(client.call('GET', '/half', Anything), (err: Coded) => err.code === 'BERTH_E_CONNECTION_LOST' && /before its answer was complete/.test(err.message));
});

test('streamed lines arrive one by one, split across chunks, with a last line that has no newline', async (t) => {
  const url = await rawServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('one\ntw');
    setTimeout(() => res.write('o\r\nthré'.slice(0, 8)), 10);
    setTimeout(() => res.end('é\nlast'), 20);
  });
  const lines: string[] = [];
  for await (const line of await new ApiClient({ server: url, token: 't' }).lines('GET', '/')) lines.push(line);
  assert.deepEqual(lines, ['one', 'two', 'thréé', 'last']);
});

test("empty lines are the server's keep-alives and never reach the caller", async (t) => {
  const url = await rawServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('\none\n\n\r\ntwo\n\n');
  });
  const lines: string[] = [];
  for await (const line of await new ApiClient({ server: url, token: 't' }).lines('GET', '/')) lines.push(line);
  assert.deepEqual(lines, ['one', 'two']);
});

test('an error answer to a streamed call rejects before any line', async (t) => {
  const daemon = await startFakeDaemon(t);
  const client = new ApiClient({ server: daemon.url, token: GOOD_TOKEN });
  await assert.rejects(client.lines('GET', '/apps/nope/logs'), (err: Coded) => err.code === 'BERTH_E_APP_NOT_FOUND' && err.status === 404);
});

test('an upload that fails on its way (a file changed while packed) is that error, not a lost connection', async (t) => {
  const daemon = await startFakeDaemon(t);
  daemon.apps.set('shop', { name: 'shop', createdAt: 'x', releases: [], config: {}, formation: {}, domains: [] });
  let chunks = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (chunks++ < 2) controller.enqueue(new Uint8Array(1000));
      else controller.error(new BerthError('BERTH_E_SOURCE_CHANGED', 'server.js changed while it was being packed'));
    },
  });
  const client = new ApiClient({ server: daemon.url, token: GOOD_TOKEN });
  const consume = async () => {
    for await (const _ of await client.lines('POST', '/apps/shop/deploy', { body })) void _;
  };
  await assert.rejects(consume(), (err: Coded) => err.code === 'BERTH_E_SOURCE_CHANGED');
});
