import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, EXAMPLES } from '../helpers/berth-process.ts';

test('berth up runs the Flask example under gunicorn, with SQLite, and serves its static files itself', async (t) => {
  // A copy, so the SQLite file the app writes never lands in the repository.
  const dir = await mkdtemp(join(tmpdir(), 'berth-flask-'));
  await cp(join(EXAMPLES, 'flask-notes'), dir, { recursive: true });
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0', '--scale', 'web=2']);
  t.after(() => berth.kill());
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = await berth.url();
  await berth.waitFor(/web\.1 ready/);
  await berth.waitFor(/web\.2 ready/);

  await t.test('notes written through one instance are read through any', async () => {
    const created = await fetch(`${url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'buy milk' }) });
    assert.equal(created.status, 201);
    for (let i = 0; i < 4; i++) {
      const notes = (await (await fetch(`${url}/notes`)).json()) as Array<{ text: string }>;
      assert.deepEqual(notes.map((n) => n.text), ['buy milk']);
    }
    const page = await (await fetch(`${url}/`)).text();
    assert.match(page, /<li>buy milk<\/li>/);
  });

  await t.test('a form post works and bad input gets a 400 from the app', async () => {
    const res = await fetch(`${url}/notes`, { method: 'POST', body: new URLSearchParams({ text: 'call mum' }) });
    assert.equal(res.status, 201);
    const bad = await fetch(`${url}/notes`, { method: 'POST', body: new URLSearchParams({}) });
    assert.equal(bad.status, 400);
  });

  await t.test('/static is served by the edge and never reaches gunicorn', async () => {
    const res = await fetch(`${url}/static/style.css`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/css/);
    assert.ok(res.headers.get('etag'));
    assert.match(await res.text(), /font-family/);
    const missing = await fetch(`${url}/static/nope.css`);
    assert.equal(missing.status, 404);
    // gunicorn logs every request it serves (--access-logfile -); none for /static.
    assert.match(berth.output, /"POST \/notes HTTP\/1\.1" 201/);
    assert.doesNotMatch(berth.output, /GET \/static\//);
  });

  await t.test('stops cleanly', async () => {
    const { code } = await berth.stop('SIGINT');
    assert.equal(code, 0);
  });
});
