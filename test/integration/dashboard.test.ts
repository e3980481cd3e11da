// The dashboard end to end: a real daemon with --dashboard, driven by
// Debian's Chromium through playwright-core. Screenshots go to
// test-artifacts/dashboard/ (kept by CI as artifacts); with
// UPDATE_DOCS_SCREENSHOT=1 the desktop app page also becomes
// docs/dashboard.png, the README's picture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { eventually, REPO } from '../helpers/berth-process.ts';
import { apiCall, deployDir, startDaemon, viaEdge } from '../helpers/daemon.ts';

// What the functions run in the page use of it (this program is type-checked without the DOM's types).
interface PageElement {
  readonly textContent: string | null;
  readonly tagName: string;
  readonly id: string;
  readonly className: string;
  getBoundingClientRect(): { right: number };
  closest(selector: string): PageElement | null;
}
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  activeElement: PageElement | null;
  documentElement: { scrollWidth: number; clientWidth: number };
};

const ARTIFACTS = join(REPO, 'test-artifacts', 'dashboard');
const CHROMIUM = '/usr/bin/chromium';

const APP = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  console.log('GET ' + req.url);
  // A few slow answers and a few failures, so the charts have something to show.
  const wait = req.url.includes('slow') ? 40 : 2;
  setTimeout(() => {
    res.statusCode = req.url.includes('fail') ? 500 : 200;
    res.end('code ' + process.env.CODE_VERSION_MARK + '\\n');
  }, wait);
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function appDir(root: string, version: string): Promise<string> {
  const dir = join(root, `shop-${version}`);
  await mkdir(dir, { recursive: true });
  // The code's own version is baked into the file, so a rollback shows in what the app answers.
  await writeFile(join(dir, 'server.mjs'), APP.replace('process.env.CODE_VERSION_MARK', JSON.stringify(version)));
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\n');
  return dir;
}

/** What sticks out on the right of a narrow screen (outside the tables, which scroll sideways on purpose). */
function tooWide(page: Page): Promise<string> {
  return page.evaluate(() => {
    const found: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      if (el.getBoundingClientRect().right > document.documentElement.clientWidth && el.closest('.table-wrap') === null) found.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className}`);
    }
    return found.slice(0, 10).join(', ');
  });
}

async function shot(page: Page, name: string): Promise<string> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

test('the dashboard: log in, live request rate, roll back, scale, reveal config, CSRF refused', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-dashboard-'));
  await mkdir(ARTIFACTS, { recursive: true });
  const daemon = await startDaemon(join(root, 'state'), 1, ['--dashboard', '127.0.0.1:0']);
  t.after(() => daemon.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const dashboard = (await daemon.berth.waitFor(/dashboard on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;

  // shop: v1 (deploy), v2 (config), v3 (deploy of new code), two web instances; blog: one more app for the overview.
  for (const name of ['shop', 'blog']) assert.equal((await apiCall(daemon, 'POST', '/apps', { name })).status, 201);
  assert.equal((await deployDir(daemon, 'shop', await appDir(root, 'one'))).last.result, 'ok');
  assert.equal((await apiCall(daemon, 'PATCH', '/apps/shop/config', { set: { GREETING: 'hello-from-config', API_KEY: 'sk-test-123' } })).status, 200);
  const second = await deployDir(daemon, 'shop', await appDir(root, 'two'));
  assert.equal(second.last.result, 'ok', second.lines.join('\n'));
  assert.equal((await apiCall(daemon, 'PUT', '/apps/shop/formation', { web: 2 })).status, 200);
  assert.equal((await deployDir(daemon, 'blog', await appDir(root, 'blog'))).last.result, 'ok');
  assert.equal((await apiCall(daemon, 'GET', '/apps/shop')).json.app.currentRelease, 'v3');
  assert.match((await viaEdge(daemon.edge, 'shop.localhost', '/')).body, /code two/);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (message) => {
    // The refused login and the refused mutation below are meant to fail; nothing else may.
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) pageErrors.push(message.text());
  });

  await t.test('without a session, pages lead to the login page and the JSON answers 401', async () => {
    const api = await fetch(`${dashboard}/api/apps`);
    assert.equal(api.status, 401);
    assert.equal(((await api.json()) as { code: string }).code, 'BERTH_E_UNAUTHORIZED');
    const response = await page.goto(dashboard);
    assert.equal(new URL(page.url()).pathname, '/login');
    const headers = response!.headers();
    assert.match(headers['content-security-policy']!, /default-src 'self'/);
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['referrer-policy'], 'same-origin');
  });

  await t.test('a wrong token is refused', async () => {
    await page.getByLabel('API token').fill('berth_not-a-real-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'), page.getByRole('button', { name: 'Log in' }).click()]);
    assert.equal(response.status(), 401);
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    assert.equal((await context.cookies()).length, 0);
    await shot(page, 'login-refused');
  });

  await t.test('the admin token logs in: an HttpOnly, SameSite=Strict session cookie, and the overview lists the apps', async () => {
    await page.getByLabel('API token').fill(daemon.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${dashboard}/`);
    const [cookie] = await context.cookies();
    assert.equal(cookie?.name, 'berth_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(cookie?.secure, false); // plain HTTP here
    const shop = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'shop' }) });
    await shop.waitFor();
    assert.match(await shop.innerText(), /running/);
    assert.match(await shop.innerText(), /v3/);
    assert.match(await shop.innerText(), /2 \/ 2 ready/);
    await page.getByRole('link', { name: 'blog' }).waitFor();
    await shot(page, 'overview');
  });

  await t.test('the keyboard reaches an app from the overview', async () => {
    let reached = false;
    for (let i = 0; i < 12 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.textContent === 'shop');
    }
    assert.ok(reached, 'Tab never reached the link to shop');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${dashboard}/apps/shop`);
    await page.getByRole('heading', { level: 1, name: /shop/ }).waitFor();
  });

  await t.test("the app's live request rate moves while traffic runs", async () => {
    let stop = false;
    const traffic = (async () => {
      // Bounded: at most 40 s of requests, whatever happens to the page.
      const end = Date.now() + 40_000;
      for (let i = 0; !stop && Date.now() < end; i++) {
        await viaEdge(daemon.edge, 'shop.localhost', i % 10 === 0 ? '/slow' : i % 25 === 0 ? '/fail' : `/item/${i}`).catch(() => {});
        // A rate that swells and ebbs, so the charts have a shape.
        await new Promise((resolve) => setTimeout(resolve, 8 + 25 * (1 + Math.sin(Date.now() / 2500))));
      }
    })();
    try {
      // A step closes every 5 s, and reaches the page over Server-Sent Events.
      await page.waitForFunction(() => Number.parseFloat(document.getElementById('rate-now')?.textContent ?? '') > 0, null, { timeout: 25_000, polling: 200 });
      const rate = await page.locator('#rate-now').innerText();
      assert.match(rate, /req\/s/);
      // Three more steps of traffic, so the charts show a line rather than a dot: shop's next samples, seen through a stream of our own.
      await page.evaluate(
        () =>
          new Promise<void>((resolve) => {
            const events = new EventSource('/api/events');
            let seen = 0;
            events.addEventListener('sample', (event) => {
              if (JSON.parse((event as MessageEvent).data).app !== 'shop' || ++seen < 3) return;
              events.close();
              resolve();
            });
          }),
      );
      await page.waitForTimeout(300);
    } finally {
      stop = true;
      await traffic;
    }
    const desktop = await shot(page, 'app-desktop');
    // The README's picture changes only when asked, so that test runs leave the tree clean.
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') await copyFile(desktop, join(REPO, 'docs', 'dashboard.png'));
  });

  await t.test('config values are hidden until revealed', async () => {
    const row = page.locator('#config tr').filter({ hasText: 'API_KEY' });
    assert.doesNotMatch(await row.innerText(), /sk-test-123/);
    assert.doesNotMatch(await page.locator('#config').innerText(), /sk-test-123|hello-from-config/);
    await page.getByRole('button', { name: 'Reveal API_KEY' }).click();
    await row.getByText('sk-test-123').waitFor();
    await page.getByRole('button', { name: 'Hide API_KEY' }).click();
    await page.getByRole('button', { name: 'Reveal API_KEY' }).waitFor();
    assert.doesNotMatch(await row.innerText(), /sk-test-123/);
  });

  await t.test('a mutation without the CSRF header is refused, from the page and from elsewhere', async () => {
    const fromPage = await page.evaluate(async () => {
      const res = await fetch('/api/apps/shop/restart', { method: 'POST' });
      return { status: res.status, body: (await res.json()) as { code: string } };
    });
    assert.equal(fromPage.status, 403);
    assert.equal(fromPage.body.code, 'BERTH_E_CSRF');
    const cookie = (await context.cookies()).find((c) => c.name === 'berth_session')!;
    const wrong = await fetch(`${dashboard}/api/apps/shop/restart`, { method: 'POST', headers: { cookie: `berth_session=${cookie.value}`, 'x-berth-csrf': 'guessed' } });
    assert.equal(wrong.status, 403);
    const csrf = await page.locator('meta[name="berth-csrf"]').getAttribute('content');
    const foreign = await fetch(`${dashboard}/api/apps/shop/restart`, { method: 'POST', headers: { cookie: `berth_session=${cookie.value}`, 'x-berth-csrf': csrf!, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    assert.equal(foreign.status, 403);
    // Nothing was restarted: still v3 with its two instances.
    const instances = (await apiCall(daemon, 'GET', '/apps/shop/ps')).json.instances as Array<{ release: string }>;
    assert.deepEqual(instances.map((i) => i.release), ['v3', 'v3']);
  });

  await t.test('rolling back from the releases list makes the older release serve', async () => {
    await page.getByRole('button', { name: 'Roll back to v2' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Roll back shop to v2?').waitFor();
    await shot(page, 'rollback-confirm');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await page.getByRole('status').filter({ hasText: 'v4 is serving' }).waitFor({ timeout: 60_000 });
    const app = (await apiCall(daemon, 'GET', '/apps/shop')).json;
    assert.equal(app.app.currentRelease, 'v4');
    assert.equal(app.release.kind, 'rollback');
    assert.match(app.release.description, /v2/);
    assert.match((await viaEdge(daemon.edge, 'shop.localhost', '/')).body, /code one/);
    await page.locator('#releases tr.current').filter({ hasText: 'v4' }).waitFor();
  });

  await t.test('the scale controls change the number of instances', async () => {
    await page.getByLabel('web').fill('1');
    await page.getByRole('button', { name: 'Apply scale' }).click();
    await page.getByRole('status').filter({ hasText: 'Scaled shop: web=1' }).waitFor({ timeout: 60_000 });
    assert.deepEqual((await apiCall(daemon, 'GET', '/apps/shop')).json.formation, { web: 1 });
    await eventually('one web instance runs', async () => ((await apiCall(daemon, 'GET', '/apps/shop/ps')).json.instances as unknown[]).length === 1);
    await page.locator('#instances tbody tr').first().waitFor();
    await eventually('the page shows one instance', async () => (await page.locator('#instances tbody tr').count()) === 1);
  });

  await t.test('the live log tail and the build log of a deploy show', async () => {
    await page.locator('#logs pre').filter({ hasText: 'GET /item/' }).waitFor();
    const deploy = page.locator('#deploys li').filter({ hasText: 'v3' });
    await deploy.getByText('Build log').click();
    await deploy.locator('pre').filter({ hasText: 'v3 is serving' }).waitFor();
    await shot(page, 'app-after-rollback-and-scale');
  });

  await t.test('readable on a phone (375 px wide)', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    // The charts follow their boxes' new width a frame or two later.
    const fits = await page.waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth, null, { timeout: 3_000, polling: 100 }).then(() => true, () => false);
    assert.ok(fits, `the app page is wider than the screen: ${await tooWide(page)}`);
    await shot(page, 'app-phone');
    await page.goto(`${dashboard}/`);
    await page.getByRole('link', { name: 'shop' }).waitFor();
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)) <= 0);
    await shot(page, 'overview-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await t.test('logging out ends the session', async () => {
    const cookie = (await context.cookies()).find((c) => c.name === 'berth_session')!;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${dashboard}/login`);
    const after = await fetch(`${dashboard}/api/apps`, { headers: { cookie: `berth_session=${cookie.value}` } });
    assert.equal(after.status, 401);
  });

  assert.deepEqual(pageErrors, []);
});
