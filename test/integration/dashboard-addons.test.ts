// The dashboard's add-ons and backups, end to end: a real daemon with an
// app that has a SQLite add-on (it needs no server), driven by Debian's
// Chromium through playwright-core. "Back up now" makes a good backup; with
// the app's database file gone the next one fails, and the page, the
// banner and the overview say so in words. Screenshots go to
// test-artifacts/dashboard/ as in dashboard.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { REPO } from '../helpers/berth-process.ts';
import { apiCall, startDaemon } from '../helpers/daemon.ts';

// What the functions run in the page use of it (this program is type-checked without the DOM's types).
interface PageElement {
  readonly tagName: string;
  readonly id: string;
  readonly className: string;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { right: number };
  closest(selector: string): PageElement | null;
}
declare const document: {
  querySelectorAll(selector: string): Iterable<PageElement>;
  activeElement: PageElement | null;
  documentElement: { scrollWidth: number; clientWidth: number };
};

const ARTIFACTS = join(REPO, 'test-artifacts', 'dashboard');
const CHROMIUM = '/usr/bin/chromium';

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

function fitsWidth(page: Page): Promise<boolean> {
  return page.waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth, null, { timeout: 3_000, polling: 100 }).then(
    () => true,
    () => false,
  );
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

test('the dashboard shows add-ons and backups: "Back up now" makes a good one, a failed one is marked with its reason', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-dashboard-addons-'));
  await mkdir(ARTIFACTS, { recursive: true });
  const state = join(root, 'state');
  const daemon = await startDaemon(state, 1, ['--dashboard', '127.0.0.1:0']);
  t.after(() => daemon.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const dashboard = (await daemon.berth.waitFor(/dashboard on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;

  for (const name of ['notes', 'plain']) assert.equal((await apiCall(daemon, 'POST', '/apps', { name })).status, 201);
  const created = await apiCall(daemon, 'POST', '/apps/notes/addons', { kind: 'sqlite' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const database = join(state, 'data', 'notes', 'db.sqlite3');
  const scheduled = await apiCall(daemon, 'PUT', '/apps/notes/backups/schedule', { cron: '0 3 * * *', timezone: 'Europe/Berlin', keep: 5 });
  assert.equal(scheduled.status, 200, JSON.stringify(scheduled.json));

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (message) => {
    // The failing backup below answers 500 on purpose; nothing else may fail.
    if (message.type() === 'error' && !/status of 500/.test(message.text())) pageErrors.push(message.text());
  });
  await page.goto(`${dashboard}/login`);
  await page.getByLabel('API token').fill(daemon.token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${dashboard}/`);

  const section = page.locator('#backups');
  const backUp = page.getByRole('button', { name: 'Back up now (sqlite)' });

  await t.test("the app's page lists the add-on: its vars by name and where it lives, never a value", async () => {
    await page.goto(`${dashboard}/apps/notes`);
    await section.getByRole('heading', { name: 'Add-ons and backups' }).waitFor();
    const addon = section.locator('li.addon[data-kind="sqlite"]');
    await addon.waitFor();
    const text = await addon.innerText();
    assert.match(text, /DATABASE_URL/);
    assert.match(text, /BERTH_DATA_DIR/);
    assert.ok(text.includes(database), text);
    assert.match(text, /Schedule\s+0 3 \* \* \* \(Europe\/Berlin\), keeps 5, next \S/);
    assert.match(text, /Last backup\s+none yet/);
    assert.doesNotMatch(await section.innerText(), /sqlite:\/\//, 'the DATABASE_URL value stays hidden');
    await section.getByText('No backups yet.').waitFor();
    assert.equal(await section.locator('#backup-alert').count(), 0);
  });

  await t.test('"Back up now" makes a good backup, which appears in the list; the button keeps its focus', async () => {
    await backUp.click();
    await page.getByRole('status').filter({ hasText: /Backup #1 of sqlite is good \(\d/ }).waitFor({ timeout: 60_000 });
    const row = section.locator('tr[data-backup="1"]');
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /#1\s+sqlite\s+manual\s+good\s+\d+ s ago\s+\d/);
    assert.equal(await backUp.innerText(), 'Back up now');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-kind') ?? null), 'sqlite');
    assert.match(await section.locator('li.addon[data-kind="sqlite"]').innerText(), /Last backup\s+#1 good/);
    const listed = (await apiCall(daemon, 'GET', '/apps/notes/backups')).json.backups as Array<{ id: number; status: string }>;
    assert.deepEqual(listed.map((b) => [b.id, b.status]), [[1, 'good']]);
    await shot(page, 'addons-desktop');
  });

  await t.test('with the database file gone, the next backup fails: marked failed with its reason, a warning banner on top', async () => {
    // As if the app had deleted its own database: the SQLite add-on refuses to back up what is not there.
    await rm(database);
    await backUp.click();
    await page.getByRole('alert').filter({ hasText: /backup 2 of notes's sqlite failed: .*is missing/ }).waitFor({ timeout: 60_000 });
    const row = section.locator('tr[data-backup="2"]');
    await row.waitFor();
    assert.match(await row.innerText(), /#2\s+sqlite\s+manual\s+failed/);
    const reason = section.locator('tr[data-reason-of="2"]');
    assert.match(await reason.innerText(), new RegExp(`Backup #2 failed: the SQLite database of notes, ${database}, is missing`));
    // Newest first: the failure above the good one.
    assert.deepEqual(await section.locator('tbody tr[data-backup]').evaluateAll((rows) => rows.map((r) => (r as unknown as PageElement).getAttribute('data-backup'))), ['2', '1']);
    const banner = section.locator('#backup-alert');
    assert.match(await banner.innerText(), /Warning: backups are failing\.[\s\S]*The newest sqlite backup \(#2, .*\) failed: the SQLite database of notes, .* is missing/);
    assert.match(await page.locator('.head-alert').innerText(), /Backup trouble: sqlite failed/);
    const listed = (await apiCall(daemon, 'GET', '/apps/notes/backups')).json.backups as Array<{ id: number; status: string; error: string }>;
    assert.equal(listed[0]?.status, 'failed');
    assert.match(listed[0]!.error, /is missing/);
    await section.scrollIntoViewIfNeeded();
    await shot(page, 'backup-failed');
  });

  await t.test('the overview flags the app whose newest backup failed, and only it', async () => {
    await page.goto(`${dashboard}/`);
    const notes = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'notes' }) });
    await notes.waitFor();
    assert.match(await notes.locator('th').innerText(), /notes\s+backup failed/);
    const plain = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'plain' }) });
    assert.doesNotMatch(await plain.innerText(), /backup/);
    await shot(page, 'overview-backup-failed');
  });

  await t.test('readable on a phone (375 px wide): no sideways scroll on the app page or the overview', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    assert.ok(await fitsWidth(page), `the overview is wider than the screen: ${await tooWide(page)}`);
    await shot(page, 'overview-backup-failed-phone');
    await page.goto(`${dashboard}/apps/notes`);
    await section.locator('tr[data-reason-of="2"]').waitFor();
    assert.ok(await fitsWidth(page), `the app page is wider than the screen: ${await tooWide(page)}`);
    // The backups become cards there: a failure's reason is read without scrolling sideways.
    const reason = await section.locator('tr[data-reason-of="2"]').boundingBox();
    assert.ok(reason !== null && reason.x >= 0 && reason.x + reason.width <= 375, JSON.stringify(reason));
    await shot(page, 'addons-phone');
    await section.screenshot({ path: join(ARTIFACTS, 'addons-phone-section.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  assert.deepEqual(pageErrors, []);
});
