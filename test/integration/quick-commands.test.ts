import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BerthProcess, EXAMPLES } from '../helpers/berth-process.ts';
import { httpUpstream } from '../helpers/upstreams.ts';

test('berth file-server serves a folder', async (t) => {
  const berth = new BerthProcess(['file-server', '--root', join(EXAMPLES, 'static-site'), '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  const url = await berth.url();
  const res = await fetch(`${url}/`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /A static site on berth/);
  assert.equal((await fetch(`${url}/missing.html`)).status, 404);
  assert.equal((await berth.stop('SIGTERM')).code, 0);
});

test('berth reverse-proxy balances over its upstreams and tunnels WebSockets', async (t) => {
  const a = await httpUpstream((_req, res) => res.end('a'));
  const b = await httpUpstream((_req, res) => res.end('b'));
  t.after(() => Promise.all([a.close(), b.close()]));
  const berth = new BerthProcess(['reverse-proxy', '--from', '127.0.0.1:0', '--to', `127.0.0.1:${a.port},127.0.0.1:${b.port}`]);
  t.after(() => berth.kill());
  const url = await berth.url();
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) seen.add(await (await fetch(`${url}/`)).text());
  assert.deepEqual([...seen].sort(), ['a', 'b']);

  const ws = new WebSocket(`${url.replace('http', 'ws')}/live`);
  const reply = await new Promise<string>((resolve, reject) => {
    ws.onopen = () => ws.send('ping');
    ws.onmessage = (event) => resolve(String(event.data));
    ws.onerror = () => reject(new Error('websocket failed'));
  });
  ws.close();
  assert.equal(reply, 'echo: ping');
  assert.equal((await berth.stop('SIGTERM')).code, 0);
});

test('berth file-server serves a changed file fresh within a second, and a removed one as 404', async (t) => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { eventually } = await import('../helpers/berth-process.ts');
  const root = await mkdtemp(join(tmpdir(), 'berth-files-'));
  await writeFile(join(root, 'note.txt'), 'first version');
  const berth = new BerthProcess(['file-server', '--root', root, '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const url = await berth.url();
  for (let i = 0; i < 5; i++) assert.equal(await (await fetch(`${url}/note.txt`)).text(), 'first version');
  await writeFile(join(root, 'note.txt'), 'second version, longer');
  const started = Date.now();
  await eventually('the new content is served', async () => (await (await fetch(`${url}/note.txt`)).text()) === 'second version, longer', 5_000);
  assert.ok(Date.now() - started < 2_500, 'a changed file was served stale for too long');
  await rm(join(root, 'note.txt'));
  await eventually('the removed file is 404', async () => (await fetch(`${url}/note.txt`)).status === 404, 5_000);
});
