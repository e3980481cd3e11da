import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiServer } from '../../src/api/api-server.ts';
import { registerPlatformRoutes } from '../../src/api/platform-routes.ts';
import type { Platform } from '../../src/platform/platform.ts';

// A deploy that fails for a reason berth did not foresee (a bug, a full
// disk) is announced to the client as an internal error "see the daemon
// log": the daemon log must then have it, once, with the app and the
// reference the client was shown.

async function daemonWith(t: { after(fn: () => unknown): void }, deploy: Platform['deploy']) {
  const logged: string[] = [];
  const api = new ApiServer({ authenticate: (token) => (token === 'good' ? 'admin' : null), log: (line) => logged.push(line) });
  const platform = { store: { getApp: (name: string) => ({ name, currentVersion: null }) }, deploy } as unknown as Platform;
  registerPlatformRoutes(api, platform);
  const address = await api.listen('127.0.0.1', 0);
  t.after(() => api.close());
  const call = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${address.port}${path}`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/gzip' }, body: 'not read' });
    return { status: res.status, lines: (await res.text()).trim().split('\n') };
  };
  return { call, logged };
}

test('an unexpected error in a streamed deploy is logged once, with the app and the reference the client is shown', async (t) => {
  const { call, logged } = await daemonWith(t, async (_app, upload, options) => {
    upload.resume();
    options.log('building 0123abc');
    throw new TypeError('Cannot read properties of undefined (reading "dir")');
  });
  const { status, lines } = await call('/apps/shop/deploy');
  assert.equal(status, 200, 'the stream had started');
  assert.equal(lines[0], 'building 0123abc');
  const outcome = JSON.parse(lines.at(-1)!) as { error: { code: string; message: string } };
  assert.equal(outcome.error.code, 'BERTH_E_INTERNAL');
  assert.doesNotMatch(outcome.error.message, /reading "dir"/, 'the client is not shown the internals');
  const reference = /\(ref ([0-9a-f]{8})\); the daemon log has the details/.exec(outcome.error.message)?.[1];
  assert.ok(reference, `the client is shown a reference: ${outcome.error.message}`);
  const mentions = logged.filter((line) => line.includes(reference));
  assert.equal(mentions.length, 1, `logged once: ${logged.join('\n')}`);
  assert.match(mentions[0]!, /^deploy of shop failed \[ref [0-9a-f]{8}\]: TypeError: Cannot read properties of undefined \(reading "dir"\)/);
  assert.match(mentions[0]!, /\n\s+at /, 'with its stack');
});

test('a deploy error berth foresaw is the client\'s to read and is not logged as internal', async (t) => {
  const { BerthError } = await import('../../src/errors.ts');
  const { call, logged } = await daemonWith(t, async (_app, upload) => {
    upload.resume();
    throw new BerthError('BERTH_E_INSTALL', 'npm ci failed with exit code 1', { status: 422, hint: 'Fix it.' });
  });
  const { status, lines } = await call('/apps/shop/deploy');
  // Refused before its first line: an ordinary error answer with the error's own status.
  assert.equal(status, 422);
  assert.deepEqual(JSON.parse(lines.at(-1)!), { code: 'BERTH_E_INSTALL', message: 'npm ci failed with exit code 1', hint: 'Fix it.' });
  assert.deepEqual(logged, []);
});
