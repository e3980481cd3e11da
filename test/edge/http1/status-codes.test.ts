import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATUS_CODES as NODE_STATUS_CODES } from 'node:http';
import { STATUS_CODES } from '../../../src/edge/http1/status-codes.ts';

test("the edge's reason phrases are node:http's, without loading node:http in the engines", () => {
  assert.deepEqual({ ...STATUS_CODES }, { ...NODE_STATUS_CODES });
});
