// The dashboard's HTTP surface without a browser: login, the cookie, the
// headers every answer carries, CSRF refusals, revoked tokens, assets and the
// live samples stream. A real store and platform (no app runs: nothing here
// starts one) and a metrics history on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupView } from '../../src/addons/index.ts';
import { DashboardServer, type DashboardAddons, type DashboardOptions } from '../../src/dashboard/index.ts';
import { BerthError } from '../../src/errors.ts';
import type { Edge, ObservationBatch, SiteCounters } from '../../src/edge/index.ts';
import { HISTORY_STEP_MS, MetricsHistory } from '../../src/metrics/index.ts';
import { Platform } from '../../src/platform/platform.ts';
import { Store } from '../../src/platform/index.ts';

async function setUp(t: { after(fn: () => unknown): void }, extra: Pick<DashboardOptions, 'addons'> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-dashboard-unit-'));
  const store = Store.open(dir);
  const platform = new Platform({ stateDir: dir, store, edge: {} as Edge, baseDomain: 'localhost', baseEnv: {}, log: () => {} });
  let now = 1_000 * HISTORY_STEP_MS;
  const history = new MetricsHistory({ now: () => now });
  const admin = store.createToken('admin').token;
  const ci = store.createToken('ci').token;
  store.createApp('shop');
  store.setConfig('shop', { SECRET: 'hunter2' });
  const logged: string[] = [];
  const dashboard = new DashboardServer({
    platform,
    history,
    authenticate: (token) => store.verifyToken(token)?.name ?? null,
    tokenActive: (name) => store.listTokens().some((token) => token.name === name && token.revokedAt === null),
    log: (line) => logged.push(line),
    ...extra,
  });
  const address = await dashboard.listen('127.0.0.1', 0);
  const base = `http://127.0.0.1:${address.port}`;
  t.after(async () => {
    await dashboard.close();
    await platform.stop();
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  /** Logs in as a browser would (its own origin); the session cookie and the page's CSRF token. */
  const login = async (token: string) => {
    const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base, 'sec-fetch-site': 'same-origin' }, body: new URLSearchParams({ token }) });
    const cookie = res.headers.get('set-cookie') ?? '';
    const session = cookie.split(';')[0]!;
    const page = session === '' ? '' : await (await fetch(`${base}/`, { headers: { cookie: session } })).text();
    return { res, cookie, session, csrf: /name="berth-csrf" content="([^"]+)"/.exec(page)?.[1] ?? '' };
  };
  const step = (sites: Record<string, SiteCounters>) => {
    const batch: ObservationBatch = { engine: 0, sites, connections: 0, records: [], dropped: 0 };
    history.ingest(batch);
    now += HISTORY_STEP_MS;
    history.tick();
  };
  return { base, store, login, step, admin, ci, logged, dashboard };
}

const counters = (requests: number): SiteCounters => ({ responses: [0, 0, requests, 0, 0, 0], bytes: 0, durations: new Array<number>(12).fill(0).map((_, i) => (i === 2 ? requests : 0)), durationSum: 0, cacheHits: 0, cacheMisses: 0, upstreamErrors: 0, upstreamRetries: 0, limited: 0 });

test('logging in with a token sets an HttpOnly SameSite=Strict cookie; a wrong token gets the form again with 401', async (t) => {
  const { base, login, admin, store } = await setUp(t);
  const wrong = await login('berth_wrong');
  assert.equal(wrong.res.status, 401);
  assert.equal(wrong.cookie, '');
  assert.match(await wrong.res.text(), /role="alert"[^>]*>That token is not valid/);

  const ok = await login(admin);
  assert.equal(ok.res.status, 303);
  assert.equal(ok.res.headers.get('location'), '/');
  assert.match(ok.cookie, /^berth_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  assert.equal(ok.csrf.length, 43);
  assert.deepEqual(
    store.listAudit(5).filter((row) => row.action === 'dashboard.login').map((row) => row.actor),
    ['admin'],
  );
  // Logged in, the login page sends you on.
  const again = await fetch(`${base}/login`, { redirect: 'manual', headers: { cookie: ok.session } });
  assert.equal(again.status, 303);
});

test('a login from another site is refused', async (t) => {
  const { base, admin } = await setUp(t);
  const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, body: new URLSearchParams({ token: admin }) });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('set-cookie'), null);
});

test('every answer carries a strict CSP and the other security headers; pages need a session, JSON answers 401', async (t) => {
  const { base } = await setUp(t);
  for (const path of ['/', '/apps/shop', '/login', '/assets/app.js', '/api/apps', '/nowhere']) {
    const res = await fetch(base + path, { redirect: 'manual' });
    assert.match(res.headers.get('content-security-policy') ?? '', /^default-src 'self'; script-src 'self'; style-src 'self';.*frame-ancestors 'none'/, path);
    assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(res.headers.get('referrer-policy'), 'same-origin', path);
  }
  const page = await fetch(`${base}/apps/shop`, { redirect: 'manual' });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), '/login');
  const api = await fetch(`${base}/api/apps`);
  assert.equal(api.status, 401);
  assert.equal(((await api.json()) as { code: string }).code, 'BERTH_E_UNAUTHORIZED');
});

test('assets: the dashboard’s own files and uPlot from its package, with ETags; no inline script in the pages', async (t) => {
  const { base, login, admin } = await setUp(t);
  const js = await fetch(`${base}/assets/app.js`);
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  const etag = js.headers.get('etag')!;
  assert.equal((await fetch(`${base}/assets/app.js`, { headers: { 'if-none-match': etag } })).status, 304);
  const uplot = await fetch(`${base}/assets/uPlot.iife.min.js`);
  assert.equal(uplot.status, 200);
  assert.match(await uplot.text(), /uPlot/);
  assert.equal((await fetch(`${base}/assets/uPlot.min.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal((await fetch(`${base}/assets/index.html`)).status, 404, 'templates only through their routes');
  assert.equal((await fetch(`${base}/assets/..%2f..%2fdashboard-server.ts`)).status, 404);
  const { session } = await login(admin);
  for (const path of ['/', '/login']) {
    const html = await (await fetch(base + path, { headers: path === '/' ? { cookie: session } : {} })).text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `${path} has an inline script`);
    assert.doesNotMatch(html, /\sstyle=|\son[a-z]+=/, `${path} has inline style or handlers`);
  }
});

test('mutations need the session’s CSRF header and the page’s own origin', async (t) => {
  const { base, login, admin } = await setUp(t);
  const { session, csrf } = await login(admin);
  const post = (headers: Record<string, string>) => fetch(`${base}/api/apps/shop/rollback`, { method: 'POST', headers: { cookie: session, 'content-type': 'application/json', ...headers }, body: '{}' });
  const refused: Array<Record<string, string>> = [{}, { 'x-berth-csrf': 'nope' }, { 'x-berth-csrf': csrf, origin: 'https://evil.example' }, { 'x-berth-csrf': csrf, 'sec-fetch-site': 'cross-site' }];
  for (const headers of refused) {
    const res = await post(headers);
    assert.equal(res.status, 403, JSON.stringify(headers));
    assert.equal(((await res.json()) as { code: string }).code, 'BERTH_E_CSRF');
  }
  // With it, the request reaches the platform (which finds nothing to roll back to).
  const res = await post({ 'x-berth-csrf': csrf, origin: base, 'sec-fetch-site': 'same-origin' });
  assert.equal(((await res.json()) as { code: string }).code !== 'BERTH_E_CSRF', true);
  assert.ok(res.status >= 400 && res.status < 500 && res.status !== 403, String(res.status));
  // Another session's token is no good either.
  const other = await login(admin);
  assert.equal((await post({ 'x-berth-csrf': other.csrf })).status, 403);
});

test('reads: the overview, one app, a config value only when asked for', async (t) => {
  const { base, login, admin } = await setUp(t);
  const { session } = await login(admin);
  const get = async (path: string) => {
    const res = await fetch(base + path, { headers: { cookie: session } });
    return { status: res.status, json: (await res.json()) as any };
  };
  const overview = await get('/api/apps');
  assert.deepEqual(overview.json.apps.map((a: { name: string; status: string }) => [a.name, a.status]), [['shop', 'not deployed']]);
  const detail = await get('/api/apps/shop');
  assert.deepEqual(detail.json.config, ['SECRET']);
  assert.doesNotMatch(JSON.stringify(detail.json), /hunter2/);
  assert.deepEqual((await get('/api/apps/shop/config/SECRET')).json, { key: 'SECRET', value: 'hunter2' });
  assert.equal((await get('/api/apps/shop/config/NOPE')).status, 404);
  assert.equal((await get('/api/apps/nope')).json.code, 'BERTH_E_APP_NOT_FOUND');
  assert.equal((await get('/api/apps/Bad_Name')).json.code, 'BERTH_E_NAME');
});

test('revoking the token ends its sessions; logging out ends one', async (t) => {
  const { base, login, admin, ci, store } = await setUp(t);
  const a = await login(ci);
  const b = await login(admin);
  assert.equal((await fetch(`${base}/api/apps`, { headers: { cookie: a.session } })).status, 200);
  store.revokeToken('ci');
  assert.equal((await fetch(`${base}/api/apps`, { headers: { cookie: a.session } })).status, 401);
  const out = await fetch(`${base}/logout`, { method: 'POST', headers: { cookie: b.session, 'x-berth-csrf': b.csrf } });
  assert.equal(out.status, 200);
  assert.match(out.headers.get('set-cookie') ?? '', /^berth_session=; .*Max-Age=0/);
  assert.equal((await fetch(`${base}/api/apps`, { headers: { cookie: b.session } })).status, 401);
});

test('live samples arrive as Server-Sent Events with the app’s summary; close() ends the stream', async (t) => {
  const { base, login, admin, step, dashboard } = await setUp(t);
  const { session } = await login(admin);
  const res = await fetch(`${base}/api/events`, { headers: { cookie: session } });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const until = async (pattern: RegExp) => {
    while (!pattern.test(text)) {
      const { value, done } = await reader.read();
      if (done) return false;
      text += value;
    }
    return true;
  };
  await until(/retry: \d+/);
  step({ shop: counters(25) });
  assert.ok(await until(/event: sample\ndata: .*\n\n/));
  const data = JSON.parse(/event: sample\ndata: (.*)\n/.exec(text)![1]!);
  assert.equal(data.app, 'shop');
  assert.equal(data.sample.requests, 25);
  assert.equal(data.summary.status, 'not deployed');
  await dashboard.close();
  assert.equal(await until(/never/), false, 'the stream ended');
});

test('logging out ends the session’s live streams at once', async (t) => {
  const { base, login, admin } = await setUp(t);
  const { session, csrf } = await login(admin);
  const res = await fetch(`${base}/api/events`, { headers: { cookie: session } });
  const reader = res.body!.getReader();
  await reader.read(); // the stream's first bytes
  const ended = (async () => {
    for (;;) if ((await reader.read()).done) return true;
  })();
  assert.equal((await fetch(`${base}/logout`, { method: 'POST', headers: { cookie: session, 'x-berth-csrf': csrf } })).status, 200);
  assert.equal(await ended, true);
});

/** An add-on service that keeps its backups in memory: the sqlite add-on backs up well until `failing` is set. */
function fakeAddons() {
  const backups: BackupView[] = [];
  const calls: Array<{ app: string; kind: string | undefined; actor: string }> = [];
  let failing = false;
  const addons: DashboardAddons = {
    list: (app) => (app === 'shop' ? [{ app: 'shop', kind: 'sqlite', createdAt: '2026-01-01T00:00:00.000Z', vars: ['DATABASE_URL', 'BERTH_DATA_DIR'], details: { path: '/state/data/shop/db.sqlite3' } }] : []),
    schedules: () => [],
    listBackups: (app) => backups.filter((b) => b.app === app),
    backup: async (app, kind, actor) => {
      calls.push({ app, kind, actor });
      const id = backups.length + 1;
      const at = new Date(Date.UTC(2026, 0, 1, 0, id)).toISOString();
      const row: BackupView = { id, app, kind: kind ?? 'sqlite', trigger: 'manual', status: failing ? 'failed' : 'good', startedAt: at, finishedAt: at, file: null, bytes: failing ? null : 2048, sha256: null, copied: false, copyError: null, error: failing ? 'the database is missing' : null, missing: false };
      backups.unshift(row);
      if (failing) throw new BerthError('BERTH_E_BACKUP_FAILED', `backup ${id} of ${app}'s sqlite failed: the database is missing`, { status: 500 });
      return row;
    },
  };
  return { addons, calls, fail: () => (failing = true) };
}

test('backups: listed on the app and flagged on the overview when the newest failed; "Back up now" runs one as the session’s actor', async (t) => {
  const fake = fakeAddons();
  const { base, login, admin } = await setUp(t, { addons: fake.addons });
  const { session, csrf } = await login(admin);
  const get = async (path: string) => (await (await fetch(base + path, { headers: { cookie: session } })).json()) as any;
  const post = (body: unknown, headers: Record<string, string> = { 'x-berth-csrf': csrf }) => fetch(`${base}/api/apps/shop/backups`, { method: 'POST', headers: { cookie: session, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  assert.deepEqual((await get('/api/apps/shop')).backups, { addons: [{ kind: 'sqlite', createdAt: '2026-01-01T00:00:00.000Z', vars: ['DATABASE_URL', 'BERTH_DATA_DIR'], details: { path: '/state/data/shop/db.sqlite3' }, backedUp: true, schedule: null, lastBackup: null }], backups: [], older: 0, alerts: [] });
  assert.equal((await post({ addon: 'sqlite' }, {})).status, 403, 'no CSRF header, no backup');
  assert.equal((await post({ addon: 3 })).status, 400);
  assert.equal(fake.calls.length, 0);

  const good = await post({ addon: 'sqlite' });
  assert.equal(good.status, 201);
  assert.equal(((await good.json()) as { backup: BackupView }).backup.status, 'good');
  assert.deepEqual(fake.calls, [{ app: 'shop', kind: 'sqlite', actor: 'admin' }]);
  assert.deepEqual((await get('/api/apps')).apps[0].backupAlerts, []);

  fake.fail();
  const failed = await post({ addon: 'sqlite' });
  assert.equal(failed.status, 500);
  assert.equal(((await failed.json()) as { code: string }).code, 'BERTH_E_BACKUP_FAILED');
  const panel = (await get('/api/apps/shop')).backups;
  assert.deepEqual(panel.backups.map((b: BackupView) => [b.id, b.status, b.error]), [[2, 'failed', 'the database is missing'], [1, 'good', null]]);
  assert.deepEqual(panel.alerts.map((a: { kind: string; problem: string }) => [a.kind, a.problem]), [['sqlite', 'failed']]);
  assert.deepEqual((await get('/api/apps')).apps[0].backupAlerts.map((a: { id: number }) => a.id), [2]);
});

test('without an add-on service the pages show no backups and "Back up now" answers 404', async (t) => {
  const { base, login, admin } = await setUp(t);
  const { session, csrf } = await login(admin);
  const detail = (await (await fetch(`${base}/api/apps/shop`, { headers: { cookie: session } })).json()) as { backups: unknown };
  assert.equal(detail.backups, null);
  const res = await fetch(`${base}/api/apps/shop/backups`, { method: 'POST', headers: { cookie: session, 'x-berth-csrf': csrf, 'content-type': 'application/json' }, body: '{"addon":"sqlite"}' });
  assert.equal(res.status, 404);
});
