import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, EXAMPLES, runBerth } from '../helpers/berth-process.ts';
import { httpUpstream } from '../helpers/upstreams.ts';

test('an app sets its own body limit in berth.toml; the edge answers 413 over it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-limits-'));
  await cp(join(EXAMPLES, 'node-hello'), dir, { recursive: true });
  await writeFile(join(dir, 'berth.toml'), '[limits]\nmax_body = "1k"\n');
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0', '--workers', '1']);
  t.after(() => berth.kill());
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = await berth.url();
  await berth.waitFor(/web\.1 ready/);
  assert.equal((await fetch(`${url}/count`, { method: 'POST', body: 'x'.repeat(1000) })).status, 200);
  assert.equal((await fetch(`${url}/count`, { method: 'POST', body: 'x'.repeat(2000) })).status, 413);
});

test('--limit changes an edge limit, and an unknown limit is refused with the list of names', async (t) => {
  const upstream = await httpUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  t.after(() => upstream.close());
  const berth = new BerthProcess(['reverse-proxy', '--from', '127.0.0.1:0', '--to', `127.0.0.1:${upstream.port}`, '--limit', 'max-body-bytes=100', '--limit', 'header-timeout=2s']);
  t.after(() => berth.kill());
  const url = await berth.url();
  assert.equal((await fetch(url, { method: 'POST', body: 'x'.repeat(100) })).status, 200);
  assert.equal((await fetch(url, { method: 'POST', body: 'x'.repeat(101) })).status, 413);
  const refused = await runBerth(['reverse-proxy', '--from', '127.0.0.1:0', '--to', '127.0.0.1:9', '--limit', 'max-bodyy=1']);
  assert.equal(refused.code, 1);
  assert.match(refused.output, /"max-bodyy=1" is not a known limit/);
  assert.match(refused.output, /max-body-bytes/);
});
