import { test } from 'node:test';
import assert from 'node:assert/strict';
import { variablesTable } from '../../../src/cli/remote/config.ts';

const VARS = [
  { key: 'BERTH_APP', source: 'berth', value: 'shop', overriddenBy: null },
  { key: 'DATABASE_URL', source: 'config', value: null, overriddenBy: null },
  { key: 'DATABASE_URL', source: 'addon:postgres', value: null, overriddenBy: 'config' },
  { key: 'REDIS_URL', source: 'addon:redis', value: null, overriddenBy: null },
];

test("config list: every variable with its source; secrets *** unless revealed, berth's own always shown; an overridden add-on var says so", () => {
  assert.equal(
    variablesTable(VARS, false),
    [
      'KEY           SOURCE                                 VALUE',
      'BERTH_APP     berth                                  shop',
      'DATABASE_URL  config                                 ***',
      'DATABASE_URL  addon:postgres (overridden by config)  ***',
      'REDIS_URL     addon:redis                            ***',
      '',
    ].join('\n'),
  );
  const revealed = variablesTable(VARS.map((v) => (v.source === 'berth' ? v : { ...v, value: `value-of-${v.source}` })), true);
  assert.match(revealed, /DATABASE_URL {2}config {33}value-of-config/);
  assert.match(revealed, /REDIS_URL {5}addon:redis {28}value-of-addon:redis/);
});
