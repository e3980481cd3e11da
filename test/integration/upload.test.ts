import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { BerthProcess, EXAMPLES } from '../helpers/berth-process.ts';
import { rssBytes } from '../helpers/processes.ts';

const CHUNK = Buffer.alloc(1024 * 1024, 0x61);
const CHUNKS = 1000; // 1000 MiB: more than a gigabyte

test('a 1 GB streamed upload passes through the edge with bounded memory', { timeout: 180_000 }, async (t) => {
  const berth = new BerthProcess(['up', join(EXAMPLES, 'node-hello'), '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  const url = new URL(await berth.url());
  await berth.waitFor(/web\.1 ready/);
  const edgePid = berth.child.pid!;
  const before = rssBytes(edgePid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(edgePid))), 50);
  t.after(() => clearInterval(sampler));

  const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/count', method: 'POST', headers: { 'content-length': String(CHUNK.length * CHUNKS) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    let sent = 0;
    // Writes honour backpressure, so the test itself holds no more than a chunk.
    const pump = () => {
      while (sent < CHUNKS) {
        sent++;
        if (!req.write(CHUNK)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  clearInterval(sampler);
  assert.equal(result.status, 200);
  assert.deepEqual(JSON.parse(result.body), { bytes: CHUNK.length * CHUNKS });
  const growth = peak - before;
  assert.ok(growth < 96 * 1024 * 1024, `edge RSS grew by ${Math.round(growth / 1024 / 1024)} MiB during the upload`);
});
