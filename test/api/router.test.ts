import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiRouter } from '../../src/api/router.ts';

const router = new ApiRouter<string>()
  .add('GET', '/apps', 'list')
  .add('POST', '/apps', 'create')
  .add('GET', '/apps/:app', 'info')
  .add('DELETE', '/apps/:app', 'destroy')
  .add('PUT', '/apps/:app/config', 'config-set');

test('routes match by method and path, with decoded parameters', () => {
  assert.deepEqual(router.match('GET', '/apps'), { handler: 'list', params: {} });
  assert.deepEqual(router.match('GET', '/apps/shop'), { handler: 'info', params: { app: 'shop' } });
  assert.deepEqual(router.match('GET', '/apps/a%20b'), { handler: 'info', params: { app: 'a b' } });
  assert.deepEqual(router.match('PUT', '/apps/shop/config/'), { handler: 'config-set', params: { app: 'shop' } });
});

test('a known path with another method lists the allowed ones', () => {
  assert.deepEqual(router.match('PATCH', '/apps/shop'), { allowed: ['GET', 'DELETE'] });
});

test('unknown paths and undecodable parameters match nothing', () => {
  assert.equal(router.match('GET', '/nope'), null);
  assert.equal(router.match('GET', '/apps/shop/extra/deep'), null);
  assert.equal(router.match('GET', '/apps/%E0%A4%A'), null);
});
