import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiServer } from '../../src/api/api-server.ts';
import { BerthError } from '../../src/errors.ts';

async function server(t: { after(fn: () => unknown): void }) {
  const logged: string[] = [];
  const api = new ApiServer({ authenticate: (token) => (token === 'good' ? 'admin' : null), log: (line) => logged.push(line), maxJsonBytes: 100 });
  api.router
    .add('GET', '/whoami', async (req) => ({ body: { actor: req.actor } }))
    .add('POST', '/echo', async (req) => ({ status: 201, body: await req.json() }))
    .add('GET', '/apps/:app', async (req) => {
      throw new BerthError('BERTH_E_APP_UNDETECTED', `no app ${req.params.app}`, { status: 404, hint: 'create it first' });
    })
    .add('GET', '/boom', async () => {
      throw new Error('secret internal detail');
    })
    .add('GET', '/lines', async () => ({
      stream: async (write) => {
        write('one');
        write('two');
      },
    }));
  const address = await api.listen('127.0.0.1', 0);
  t.after(() => api.close());
  const base = `http://127.0.0.1:${address.port}`;
  const call = (path: string, init: RequestInit = {}, token = 'good') =>
    fetch(base + path, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) } });
  return { call, logged };
}

test('every route needs a valid bearer token', async (t) => {
  const { call } = await server(t);
  for (const token of ['', 'bad']) {
    const res = await call('/whoami', {}, token);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="berth"');
    assert.equal(((await res.json()) as { code: string }).code, 'BERTH_E_UNAUTHORIZED');
  }
  assert.deepEqual(await (await call('/whoami')).json(), { actor: 'admin' });
});

test('errors are real statuses with {code, message, hint}', async (t) => {
  const { call, logged } = await server(t);
  const missing = await call('/apps/shop');
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { code: 'BERTH_E_APP_UNDETECTED', message: 'no app shop', hint: 'create it first' });
  assert.equal((await call('/nope')).status, 404);
  const wrongMethod = await call('/whoami', { method: 'DELETE' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'GET');
  const boom = await call('/boom');
  assert.equal(boom.status, 500);
  const body = (await boom.json()) as { code: string; message: string };
  assert.equal(body.code, 'BERTH_E_INTERNAL');
  assert.doesNotMatch(body.message, /secret internal detail/);
  assert.match(logged.join('\n'), /secret internal detail/);
});

test('JSON bodies are parsed, malformed ones refused, oversized ones 413', async (t) => {
  const { call } = await server(t);
  const ok = await call('/echo', { method: 'POST', body: JSON.stringify({ a: 1 }) });
  assert.equal(ok.status, 201);
  assert.deepEqual(await ok.json(), { a: 1 });
  const bad = await call('/echo', { method: 'POST', body: '{"a":' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { code: string }).code, 'BERTH_E_BAD_JSON');
  const big = await call('/echo', { method: 'POST', body: JSON.stringify({ a: 'x'.repeat(200) }) });
  assert.equal(big.status, 413);
});

test('streamed answers arrive line by line', async (t) => {
  const { call } = await server(t);
  assert.equal(await (await call('/lines')).text(), 'one\ntwo\n');
});

test('a streamed answer sends its head at once, and empty keep-alive lines while it is quiet', async (t) => {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const api = new ApiServer({ authenticate: () => 'admin', log: () => {}, streamKeepAliveMs: 40 });
  api.router.add('GET', '/quiet', async () => ({
    stream: async (write) => {
      write('first');
      await done;
      write('last');
    },
  }));
  const address = await api.listen('127.0.0.1', 0);
  t.after(() => api.close());
  const res = await fetch(`http://127.0.0.1:${address.port}/quiet`, { headers: { authorization: 'Bearer x' } });
  assert.equal(res.status, 200, 'the head arrived before the stream ended');
  const reader = res.body!.getReader();
  let text = '';
  const decoder = new TextDecoder();
  for (let i = 0; i < 100 && !/first\n\n\n/.test(text); i++) text += decoder.decode((await reader.read()).value);
  assert.match(text, /^first\n\n\n/, 'quiet spells bring empty lines');
  finish();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
  assert.match(text, /\nlast\n$/);
});

test('any spelling of the Bearer scheme is accepted (RFC 9110: schemes are case-insensitive)', async (t) => {
  const { call } = await server(t);
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'BeArEr']) {
    const res = await call('/whoami', { headers: { authorization: `${scheme} good` } }, '');
    assert.equal(res.status, 200, scheme);
  }
  assert.equal((await call('/whoami', { headers: { authorization: 'Basic Z2l0Omdvb2Q=' } }, '')).status, 401, 'basic auth only where allowed');
});

test('a deferred stream: an error before its first line is an error answer with its status; after it, the last line', async (t) => {
  const api = new ApiServer({ authenticate: () => 'admin', log: () => {}, streamKeepAliveMs: 40 });
  api.router
    .add('POST', '/early', async (req) => ({
      deferHead: true,
      stream: async () => {
        for await (const _ of req.raw) break;
        throw new BerthError('BERTH_E_ARCHIVE', 'the upload is not gzip data', { status: 400, hint: 'use berth deploy' });
      },
    }))
    .add('POST', '/late', async () => ({
      deferHead: true,
      stream: async (write) => {
        write('building');
        throw new BerthError('BERTH_E_INSTALL', 'npm ci failed', { status: 422, hint: 'read the output' });
      },
    }))
    .add('POST', '/quiet', async (req) => ({
      deferHead: true,
      stream: async (write) => {
        for await (const _ of req.raw);
        // Waiting (behind another deploy, say) after the whole body came: the head goes out with keep-alive lines.
        await new Promise((resolve) => setTimeout(resolve, 200));
        write('done');
      },
    }));
  const address = await api.listen('127.0.0.1', 0);
  t.after(() => api.close());
  const post = (path: string) => fetch(`http://127.0.0.1:${address.port}${path}`, { method: 'POST', headers: { authorization: 'Bearer x' }, body: 'not gzip' });
  const early = await post('/early');
  assert.equal(early.status, 400);
  assert.deepEqual(await early.json(), { code: 'BERTH_E_ARCHIVE', message: 'the upload is not gzip data', hint: 'use berth deploy' });
  const late = await post('/late');
  assert.equal(late.status, 200);
  assert.equal(await late.text(), `building\n${JSON.stringify({ error: { code: 'BERTH_E_INSTALL', message: 'npm ci failed', hint: 'read the output' } })}\n`);
  const quiet = await post('/quiet');
  assert.equal(quiet.status, 200);
  assert.match(await quiet.text(), /^\n+done\n$/);
});

test('answers carry no raw control characters: JSON keeps its exact value, text lines show escapes', async (t) => {
  const hostile = 'x\u001b]0;t\u0007\u009b2J\u202e\u2028\ry';
  const api = new ApiServer({ authenticate: () => 'admin', log: () => {} });
  api.router
    .add('GET', '/json', async () => ({ body: { line: hostile } }))
    .add('GET', '/text', async () => ({ stream: async (write) => void write(hostile) }));
  const address = await api.listen('127.0.0.1', 0);
  t.after(() => api.close());
  const get = (path: string) => fetch(`http://127.0.0.1:${address.port}${path}`, { headers: { authorization: 'Bearer x' } }).then((res) => res.text());
  const json = await get('/json');
  assert.doesNotMatch(json, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u202e]/u);
  assert.deepEqual(JSON.parse(json), { line: hostile }, 'the value is exact');
  assert.equal(await get('/text'), 'x\\x1b]0;t\\x07\\u009b2J\\u202e\\u2028\\ry\n');
});
