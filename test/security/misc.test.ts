// Four small boundaries, attacked on a real daemon:
// - a hostile client's upload refused before the build starts gets the
//   status docs/ERRORS.md names, not a 200 with an error line;
// - the Bearer scheme in any case (RFC 9110) is accepted everywhere a token is;
// - a hostile app cannot read every app's names and traffic from the
//   --metrics listener it can reach on 127.0.0.1;
// - a cron job firing every second cannot grow cron_runs without bound.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Header } from 'tar';
import { Store } from '../../src/platform/index.ts';
import { apiCall, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { deployHostile, hostileRun } from './hostile-app.ts';

// The metrics attack comes from an app that reaches the host's loopback: an
// uncontained app (a daemon without root, or --sandbox off). A sandboxed
// app reaches no loopback of the host at all (test/security/sandbox-*);
// what is tested here is the listener's own token, so --sandbox off.
const UNCONTAINED = ['--sandbox', 'off'];

function tarEntry(path: string, body: Buffer, size = body.length): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path, type: 'File', mode: 0o644, uid: 0, gid: 0, size, mtime: new Date('2024-01-01T00:00:00Z') }).encode(block);
  return Buffer.concat([block, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

async function upload(d: Daemon, app: string, body: Buffer): Promise<{ status: number; text: string }> {
  const res = await fetch(`${d.api}/apps/${app}/deploy`, { method: 'POST', headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/gzip' }, body });
  return { status: res.status, text: await res.text() };
}

test('hostile clients and a hostile app against the deploy status, the Bearer scheme and the metrics listener', { timeout: 240_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-misc-'));
  let started: Daemon | null = null;
  // The daemon first: stopping, it still writes its logs under root.
  t.after(async () => {
    await started?.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  const state = join(root, 'state');
  const d = await startDaemon(state, 1, ['--metrics', '127.0.0.1:0', ...UNCONTAINED]);
  started = d;
  const metricsUrl = `${(await d.berth.waitFor(/metrics listening on (http:\/\/127\.0\.0\.1:\d+)\/metrics/))[1]!}/metrics`;
  await deployHostile(d, 'evil', join(root, 'evil'));
  const releasesBefore = (await apiCall(d, 'GET', '/apps/evil/releases')).json.releases.length;

  await t.test('an upload refused before the build is an error answer with its status, and nothing is kept', async () => {
    const unsafe = gzipSync(Buffer.concat([tarEntry('../escape.txt', Buffer.from('owned\n')), Buffer.alloc(1024)]));
    const huge = gzipSync(Buffer.concat([tarEntry('big.bin', Buffer.alloc(0), 8 * 1024 * 1024 * 1024), Buffer.alloc(1024)]));
    const cases: Array<[string, Buffer, number, string]> = [
      ['not gzip', Buffer.from('this is not a tarball\n'.repeat(100)), 400, 'BERTH_E_ARCHIVE'],
      ['truncated gzip', gzipSync(Buffer.concat([tarEntry('a.txt', Buffer.from('a')), Buffer.alloc(1024)])).subarray(0, 30), 400, 'BERTH_E_ARCHIVE'],
      ['a ../ entry', unsafe, 400, 'BERTH_E_ARCHIVE'],
      ['an entry over the size limit', huge, 413, 'BERTH_E_ARCHIVE_TOO_LARGE'],
      ['no files', gzipSync(Buffer.alloc(1024)), 400, 'BERTH_E_NOTHING_TO_DEPLOY'],
    ];
    for (const [what, body, status, code] of cases) {
      const answer = await upload(d, 'evil', body);
      assert.equal(answer.status, status, `${what}: ${answer.text}`);
      const json = JSON.parse(answer.text) as { code: string; message: string; hint?: string };
      assert.equal(json.code, code, what);
      assert.ok(json.hint, `${what}: the answer has a hint`);
    }
    assert.equal(existsSync(join(state, 'apps', 'evil', 'escape.txt')), false);
    const builds = await readdir(join(state, 'apps', 'evil', 'builds'));
    for (const build of builds) assert.notEqual((await readdir(join(state, 'apps', 'evil', 'builds', build))).length, 0, `an empty build folder ${build} was left`);
    assert.equal((await apiCall(d, 'GET', '/apps/evil/releases')).json.releases.length, releasesBefore);
  });

  await t.test('the Bearer scheme in any case opens the API, git smart HTTP and the metrics listener', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const headers = { authorization: `${scheme} ${d.token}` };
      assert.equal((await fetch(`${d.api}/apps`, { headers })).status, 200, `API, ${scheme}`);
      assert.equal((await fetch(`${d.api}/git/evil.git/info/refs?service=git-upload-pack`, { headers })).status, 200, `git, ${scheme}`);
      assert.equal((await fetch(metricsUrl, { headers })).status, 200, `metrics, ${scheme}`);
    }
  });

  await t.test('the hostile app cannot read /metrics on 127.0.0.1 without a token', async () => {
    const curl = (url: string) => hostileRun(d, 'evil.localhost', ['curl', '-sS', '-w', '\n%{http_code}', url]);
    for (const url of [metricsUrl, `${d.api}/metrics`]) {
      const answer = await curl(url);
      assert.equal(answer.code, 0, answer.stderr);
      const status = answer.stdout.trim().split('\n').at(-1);
      assert.equal(status, '401', `${url}: ${answer.stdout}`);
      assert.doesNotMatch(answer.stdout, /berth_http_requests_total|app="evil"/);
    }
  });
});

test('a cron job firing every second for two hours leaves a bounded cron_runs', async (t) => {
  // Fsyncs on tmpfs cost nothing: 7,200 runs in a few seconds.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = await mkdtemp(join(base, 'berth-cron-runs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let now = Date.parse('2026-01-02T00:00:00.000Z');
  const store = Store.open(dir, { now: () => now });
  t.after(() => store.close());
  store.createApp('evil');
  for (let i = 0; i < 2 * 3600; i++) {
    const slot = new Date(now).toISOString();
    assert.equal(store.claimCronSlot('evil', 'tick', slot, 1), true);
    now += 500;
    store.finishCronRun('evil', 'tick', slot, 0);
    now += 500;
  }
  const kept = store.listCronRuns('evil', { job: 'tick', limit: 100_000 }).length;
  assert.ok(kept <= 3601 + 1, `${kept} rows kept after 7,200 runs`);
  assert.ok(kept >= 3600, `the last hour is kept (${kept})`);
});
