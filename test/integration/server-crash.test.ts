import { edgePaths, readEdgeRecord } from '../../src/edge-process/index.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packSource } from '../../src/build/index.ts';
import { Store } from '../../src/platform/index.ts';
import { alive, eventually } from '../helpers/berth-process.ts';
import { startDaemon as start, viaEdge } from '../helpers/daemon.ts';
import { readFileSync } from 'node:fs';
import { descendants } from '../helpers/processes.ts';
import { stateId } from '../../src/sandbox/index.ts';

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The egress relays (slirp4netns) attached to the namespace files of the daemon on `state`. */
function egressRelays(state: string): number[] {
  const folder = `/run/berth/${stateId(state)}/netns/`;
  return descendants(1).filter((pid) => {
    try {
      return commandOf(pid) === 'slirp4netns' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(folder);
    } catch {
      return false;
    }
  });
}

const APP = (version: string) => `
import { createServer } from 'node:http';
const server = createServer((req, res) => res.end(JSON.stringify({ version: '${version}', release: process.env.BERTH_RELEASE })));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

test('SIGKILL of the daemon during deploys and config changes always restarts to a consistent, serving state', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-crash-'));
  const state = join(root, 'state');
  const orphans = new Set<number>();
  t.after(() => {
    for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  let d = await start(state);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const headers = () => ({ authorization: `Bearer ${d.token}` });
  await fetch(`${d.api}/apps`, { method: 'POST', headers: headers(), body: JSON.stringify({ name: 'shop' }) });
  const deploy = async (version: string) => {
    const dir = join(root, version);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'server.mjs'), APP(version));
    await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\n');
    const packed = await packSource(dir);
    const res = await fetch(`${d.api}/apps/shop/deploy`, { method: 'POST', headers: headers(), body: packed.stream as unknown as RequestInit["body"], duplex: 'half' } as RequestInit);
    return res.text();
  };
  assert.match(await deploy('v1'), /"result":"ok"/);

  const rounds = 6;
  for (let round = 0; round < rounds; round++) {
    // Start a change, then kill the daemon at a random moment during it.
    const change =
      round % 2 === 0
        ? deploy(`round-${round}`).catch(() => 'interrupted')
        : fetch(`${d.api}/apps/shop/config`, { method: 'PATCH', headers: headers(), body: JSON.stringify({ set: { ROUND: String(round) } }) }).catch(() => 'interrupted');
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 400)));
    // The app's egress relay (slirp4netns) belongs to its network, which
    // outlives the daemon: the next one adopts it rather than start another.
    // The edge process outlives the daemon too, by design, and is adopted (test/edge-process/).
    const edge = readEdgeRecord(edgePaths(state).record)?.pid;
    for (const pid of descendants(d.berth.child.pid!)) if (commandOf(pid) !== 'slirp4netns' && pid !== edge) orphans.add(pid);
    d.berth.child.kill('SIGKILL');
    await d.berth.exited;
    await change;

    const store = Store.open(state);
    try {
      assert.deepEqual(store.checkIntegrity(), [], `round ${round}: integrity`);
    } finally {
      store.close();
    }
    d = await start(state);
    // The new daemon takes the serving release's instances over (the same
    // processes, verified) and ends everything else the killed one left.
    await eventually(`round ${round}: what was not taken over is gone`, async () => {
      const ps = ((await (await fetch(`${d.api}/apps/shop/ps`, { headers: headers() })).json()) as { instances: Array<{ pid: number | null }> }).instances;
      const kept = new Set(ps.flatMap((instance) => (instance.pid === null ? [] : [instance.pid, ...descendants(instance.pid)])));
      return [...orphans].every((pid) => !alive(pid) || kept.has(pid));
    }, 10_000);
    const relays = egressRelays(state);
    assert.ok(relays.length <= 1, `round ${round}: ${relays.length} egress relays for one app`);
    const app = (await (await fetch(`${d.api}/apps/shop`, { headers: headers() })).json()) as { release: { name: string } | null };
    assert.ok(app.release !== null, `round ${round}: no current release`);
    const releases = ((await (await fetch(`${d.api}/apps/shop/releases`, { headers: headers() })).json()) as { releases: Array<{ status: string }> }).releases;
    assert.ok(!releases.some((r) => r.status === 'pending'), `round ${round}: a release stayed pending`);
    const answer = await eventually(`round ${round}: the current release serves`, async () => {
      const res = await viaEdge(d.edge, 'shop.localhost');
      return res.status === 200 ? (JSON.parse(res.body) as { release: string }) : null;
    }, 30_000);
    assert.equal(answer.release, app.release.name, `round ${round}: serves ${answer.release}, current is ${app.release.name}`);
  }
});
