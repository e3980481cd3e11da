import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOpenFilesLimit } from './fd-limit.ts';

test('the open-files line of /proc/PID/limits', () => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             95000                95000                processes ',
    'Max open files            20000                65536                files     ',
  ].join('\n');
  assert.deepEqual(parseOpenFilesLimit(limits), { soft: 20000, hard: 65536 });
  assert.equal(parseOpenFilesLimit('Max open files            1024                 unlimited            files').hard, Number.MAX_SAFE_INTEGER);
  assert.throws(() => parseOpenFilesLimit('nothing here'), /Max open files/);
});
