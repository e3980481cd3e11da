import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upAppName } from '../../src/cli/up-sandbox.ts';

test("berth up names the app's sandbox after its folder, as an app name", () => {
  assert.equal(upAppName('/home/ann/Shop Front'), 'shop-front');
  assert.equal(upAppName('/srv/node-hello'), 'node-hello');
  assert.equal(upAppName('/tmp/berth-up-sandbox-PCVR2U'), 'berth-up-sandbox-pcvr2u');
  assert.equal(upAppName('/srv/2024_site'), 'app-2024-site');
  assert.equal(upAppName('/'), 'app');
  assert.equal(upAppName('/srv/a-very-long-folder-name-for-an-app-indeed'), 'a-very-long-folder-name-for-an');
  for (const dir of ['/x/---', '/x/ÄÖÜ', '/x/9', '/x/' + 'z'.repeat(80)]) assert.match(upAppName(dir), /^[a-z][a-z0-9-]{0,29}$/, dir);
});
