import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, EXAMPLES } from '../helpers/berth-process.ts';

test('berth up runs the ASGI example under uvicorn, in a virtualenv that sees the system packages', async (t) => {
  // A copy: the build makes .venv in the app folder.
  const dir = await mkdtemp(join(tmpdir(), 'berth-asgi-'));
  await cp(join(EXAMPLES, 'asgi-hello'), dir, { recursive: true });
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = await berth.url();
  await berth.waitFor(/web\.1 ready/);
  assert.match(berth.output, /running \S*python3 -m venv --without-pip --system-site-packages \.venv/);
  assert.ok((await stat(join(dir, '.venv', 'bin', 'python'))).isFile(), 'the virtualenv exists');
  assert.match(berth.output, /web\.1\s+\|.*[Uu]vicorn running on http:\/\/127\.0\.0\.1:\d+/);
  const res = await fetch(`${url}/hi`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'hello from asgi on /hi (release local)\n');
});
