import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.ts';
import { Store } from '../../src/platform/index.ts';
import { openTempStore } from './store-helpers.ts';

function refusedWith(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof BerthError && err.code === code);
}

test('drains are stored per app, survive a reopen, and go with their app', (t) => {
  const { dir, store } = openTempStore(t);
  store.createApp('shop');
  store.createApp('blog');
  const first = store.addDrain('shop', 'syslog+tls://logs.example.com:6514', 5);
  const second = store.addDrain('shop', 'https://user:secret@logs.example.com/ingest', 5);
  store.addDrain('blog', 'syslog+tls://logs.example.com:6514', 5);
  assert.equal(first.app, 'shop');
  assert.deepEqual(store.listDrains('shop').map((d) => d.id), [first.id, second.id]);
  refusedWith(() => store.addDrain('shop', 'syslog+tls://logs.example.com:6514', 5), 'BERTH_E_DRAIN_EXISTS');
  refusedWith(() => store.addDrain('shop', 'syslog://other:514', 2), 'BERTH_E_USAGE');
  refusedWith(() => store.removeDrain('blog', first.id), 'BERTH_E_DRAIN_NOT_FOUND');
  refusedWith(() => store.removeDrain('shop', 9999), 'BERTH_E_DRAIN_NOT_FOUND');
  assert.equal(store.removeDrain('shop', first.id).url, 'syslog+tls://logs.example.com:6514');
  store.close();

  const reopened = Store.open(dir);
  t.after(() => reopened.close());
  assert.deepEqual(reopened.listDrains().map((d) => [d.app, d.url]), [
    ['shop', 'https://user:secret@logs.example.com/ingest'],
    ['blog', 'syslog+tls://logs.example.com:6514'],
  ]);
  reopened.destroyApp('shop');
  assert.deepEqual(reopened.listDrains().map((d) => d.app), ['blog']);
  assert.deepEqual(reopened.checkIntegrity(), []);
});
