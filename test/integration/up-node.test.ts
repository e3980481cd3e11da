import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BerthProcess, EXAMPLES, alive, eventually } from '../helpers/berth-process.ts';
import { descendants, instanceHostPid } from '../helpers/processes.ts';

async function whoami(url: string): Promise<{ instance: string; pid: number }> {
  const res = await fetch(`${url}/whoami`);
  assert.equal(res.status, 200);
  return (await res.json()) as { instance: string; pid: number };
}

test('berth up serves the Node example with two instances, survives a killed instance, and stops cleanly', async (t) => {
  const berth = new BerthProcess(['up', join(EXAMPLES, 'node-hello'), '--listen', '127.0.0.1:0', '--scale', 'web=2']);
  t.after(() => berth.kill());
  const url = await berth.url();
  await berth.waitFor(/web\.1 ready/);
  await berth.waitFor(/web\.2 ready/);

  await t.test('requests are balanced over both instances', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await whoami(url)).instance);
    assert.deepEqual([...seen].sort(), ['web.1', 'web.2']);
  });

  await t.test('instance output is prefixed with its process type and number', () => {
    assert.match(berth.output, /web\.1\s+\| node-hello listening on 127\.0\.0\.1:\d+/);
    assert.match(berth.output, /web\.2\s+\| node-hello listening on 127\.0\.0\.1:\d+/);
  });

  await t.test('a 3 MB POST comes back byte-identical', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const res = await fetch(`${url}/echo`, { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
  });

  await t.test('the app sees forwarding headers set by the edge, not by the client', async () => {
    const res = await fetch(`${url}/headers`, { headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' } });
    const headers = (await res.json()) as Record<string, string>;
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
  });

  await t.test('killing one instance under load loses no request, and it comes back', async () => {
    const victim = await eventually('web.1 answers', async () => {
      for (let i = 0; i < 10; i++) {
        const who = await whoami(url);
        if (who.instance === 'web.1') return who;
      }
      return null;
    });
    let ok = 0;
    const failures: string[] = [];
    let stop = false;
    const deadline = Date.now() + 15_000;
    const worker = async () => {
      while (!stop && Date.now() < deadline && ok + failures.length < 5_000) {
        try {
          const res = await fetch(`${url}/whoami`);
          const text = await res.text();
          if (res.status === 200) ok++;
          else failures.push(`status ${res.status}: ${text}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, worker));
    await eventually('some load has run', () => ok > 200);
    // Run as root, berth up contains the app: the pid it sees is its sandbox's.
    const hostPid = instanceHostPid(berth.child.pid!, 'web.1', victim.pid);
    assert.ok(hostPid !== null, 'web.1 found among berth up\'s processes');
    process.kill(hostPid, 'SIGKILL');
    await berth.waitFor(/web\.1 crashed/);
    await eventually('web.1 is back with a new process', async () => {
      const who = await whoami(url);
      const now = instanceHostPid(berth.child.pid!, 'web.1', who.pid);
      return who.instance === 'web.1' && now !== null && now !== hostPid;
    });
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    assert.ok(ok > 200, `only ${ok} requests ran`);
  });

  await t.test('SIGTERM stops every instance and leaves no process behind', async () => {
    const pid = berth.child.pid!;
    const children = descendants(pid);
    assert.ok(children.length >= 2, `expected instance processes, found ${children.length}`);
    const { code } = await berth.stop('SIGTERM');
    assert.equal(code, 0);
    await eventually('every child process has exited', () => children.every((child) => !alive(child)), 5_000);
    assert.match(berth.output, /web\.1 stopped/);
    assert.match(berth.output, /web\.2 stopped/);
  });
});
