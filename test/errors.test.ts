import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ERROR_CODES } from '../src/errors.ts';

test('every error code is documented in docs/ERRORS.md', async () => {
  const doc = await readFile(new URL('../docs/ERRORS.md', import.meta.url), 'utf8');
  const undocumented = Object.keys(ERROR_CODES).filter((code) => !doc.includes(`\`${code}\``));
  assert.deepEqual(undocumented, []);
});

test('error codes follow the BERTH_E_ naming', () => {
  for (const code of Object.keys(ERROR_CODES)) assert.match(code, /^BERTH_E_[A-Z_]+$/);
});
