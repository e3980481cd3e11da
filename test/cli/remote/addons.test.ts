// berth addons, storage and backups against the real add-on routes, service
// and store (test/helpers/addon-api.ts: the SQLite provider, and a Redis
// whose backups fail). The real daemon: test/integration/addons-cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { confirmation } from '../../../src/cli/remote/addons.ts';
import { startAddonApi } from '../../helpers/addon-api.ts';
import { berth, testEnv } from './run-berth.ts';

const MAIN = fileURLToPath(new URL('./remote-main.ts', import.meta.url));
const TIME = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/.source;

async function setup(t: { after(fn: () => unknown): void }, options: { copy?: boolean } = {}) {
  const api = await startAddonApi(t, options);
  api.createApp('shop');
  const env = await testEnv(t, { url: api.url, token: api.token });
  return { api, env, run: (...argv: string[]) => berth(argv, { env }) };
}

/** A real berth process whose standard input is not a terminal (a script's, a CI job's). */
async function unattended(env: Record<string, string>, ...argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [MAIN, ...argv], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, out, err };
}

const shellQuote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** A real berth process on a terminal (util-linux script's pseudo-terminal): `answer` is typed when it asks. */
async function onTerminal(env: Record<string, string>, answer: string, ...argv: string[]): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, MAIN, ...argv].map(shellQuote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', TERM: 'dumb', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let typed = false;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString('utf8');
    if (!typed && screen.includes('to confirm: ')) {
      typed = true;
      child.stdin.write(`${answer}\r`);
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = await once(child, 'exit');
  clearTimeout(killer);
  child.stdin.destroy();
  return { code: code as number | null, screen: screen.replace(/\r+\n/g, '\n') };
}

test('addons create prints the vars\' names and the release, list and info hide values, info --reveal shows them', async (t) => {
  const { api, run } = await setup(t);
  const created = await run('addons', 'create', 'sqlite', '--app', 'shop');
  assert.equal(created.code, 0, created.err);
  assert.equal(created.out, 'created the sqlite add-on of shop: set DATABASE_URL and BERTH_DATA_DIR\nrelease v2 is live\n');
  assert.equal(created.err, '');

  const path = `${api.stateDir}/data/shop/db.sqlite3`;
  const list = await run('addons', 'list', '--app', 'shop');
  assert.match(list.out, new RegExp(`^APP +KIND +VARS +CREATED +DETAILS\nshop +sqlite +DATABASE_URL,BERTH_DATA_DIR +${TIME} +path=${path}\n$`));
  assert.deepEqual((await run('addons', 'list')).out, list.out);
  assert.equal(JSON.parse((await run('addons', 'list', '--json')).out).addons[0].kind, 'sqlite');

  const info = await run('addons', 'info', 'sqlite', '--app', 'shop');
  assert.equal(info.code, 0, info.err);
  assert.match(info.out, /^app: +shop\nkind: +sqlite\n/);
  assert.match(info.out, /\nvars: +DATABASE_URL, BERTH_DATA_DIR\n/);
  assert.match(info.out, /\nbackups: +not scheduled \(berth backups schedule --app shop --addon sqlite --cron EXPR\)\nlast backup: +none yet\n$/);
  assert.doesNotMatch(info.out, /sqlite:\/\//);
  assert.equal(JSON.parse((await run('addons', 'info', 'sqlite', '--app', 'shop', '--json')).out).addon.values, null);
  const revealed = await run('addons', 'info', 'sqlite', '--app', 'shop', '--reveal');
  assert.match(revealed.out, new RegExp(`\nKEY +VALUE\nBERTH_DATA_DIR +${api.stateDir}/data/shop\nDATABASE_URL +sqlite:///${path}\n$`));

  const again = await run('addons', 'create', 'sqlite', '--app', 'shop');
  assert.equal(again.code, 1);
  assert.match(again.err, /^berth: the app "shop" already has a sqlite add-on \[BERTH_E_ADDON_EXISTS\]\nhint: berth addons info sqlite --app shop\n$/);
  assert.equal((await run('addons', 'list', '--app', 'blog')).code, 1);
});

test('backups create waits and reports; list, restore beside and into the app, schedule set, shown and off', async (t) => {
  const { run } = await setup(t, { copy: true });
  await run('addons', 'create', 'sqlite', '--app', 'shop');
  const made = await run('backups', 'create', '--app', 'shop');
  assert.equal(made.code, 0, made.err);
  assert.match(made.out, /^backup 1 of shop's sqlite is good: \d+ bytes, sha256 [0-9a-f]{12}…\nfile: shop-sqlite-\d{8}T\d{6}Z-1\.sqlite\.gz \(copied to the second backup folder\)\n$/);

  const list = await run('backups', 'list', '--app', 'shop');
  assert.match(list.out, new RegExp(`^ID +ADDON +TRIGGER +STATUS +STARTED +SIZE +SHA256 +COPY +ERROR\n1 +sqlite +manual +good +${TIME} +\\d+ bytes +[0-9a-f]{12} +yes +-\n$`));
  assert.equal(list.err, '');
  assert.equal(JSON.parse((await run('backups', 'list', '--app', 'shop', '--json')).out).backups[0].status, 'good');

  const beside = await run('backups', 'restore', '1', '--into', 'new');
  assert.equal(beside.code, 0, beside.err);
  assert.match(beside.out, new RegExp(`^restored backup 1 \\(sqlite of shop, ${TIME}\\) beside the app: .+\nlocation: .+\nchecksum verified \\(sha256 [0-9a-f]{12}…\\)\n$`));
  const over = await run('backups', 'restore', '1', '--confirm', 'shop');
  assert.equal(over.code, 0, over.err);
  assert.match(over.out, /^restored backup 1 \(sqlite of shop, .*\) into the app: .+\nchecksum verified/);
  const wrong = await run('backups', 'restore', '1', '--into', 'app', '--confirm', 'shoe');
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /^berth: --confirm "shoe" does not match shop; nothing was changed \[BERTH_E_CONFIRM\]\nhint: To go ahead: berth backups restore 1 --confirm shop\n$/);

  const set = await run('backups', 'schedule', '--app', 'shop', '--cron', '0 3 * * *', '--timezone', 'Europe/Berlin', '--keep', '14');
  assert.equal(set.code, 0, set.err);
  assert.equal(set.out, "shop's sqlite is backed up at 0 3 * * * (Europe/Berlin), keeping the newest 14; next at 2030-01-01 03:00:00 UTC\n");
  const shown = await run('backups', 'schedule', '--app', 'shop');
  assert.equal(shown.out, 'ADDON   SCHEDULE                   KEEP  NEXT RUN\nsqlite  0 3 * * * (Europe/Berlin)  14    2030-01-01 03:00:00 UTC\n');
  assert.match((await run('addons', 'info', 'sqlite', '--app', 'shop')).out, /\nbackups: +0 3 \* \* \* \(Europe\/Berlin\), keeping 14, next 2030-01-01 03:00:00 UTC\nlast backup: +1 good /);
  const badCron = await run('backups', 'schedule', '--app', 'shop', '--cron', 'at three');
  assert.equal(badCron.code, 1);
  assert.match(badCron.err, /\[BERTH_E_CRON_SCHEDULE\]/);
  const off = await run('backups', 'schedule', '--app', 'shop', '--addon', 'sqlite', '--off');
  assert.equal(off.out, "scheduled backups of shop's sqlite are off; the backups made are kept\n");
  assert.equal((await run('backups', 'schedule', '--app', 'shop')).out, 'shop has no backup schedules; set one with: berth backups schedule --app shop --cron "0 3 * * *"\n');
});

test('a backup that fails exits 1 with the reason, and the list shows it in capitals with a warning', async (t) => {
  const { run } = await setup(t);
  await run('addons', 'create', 'redis', '--app', 'shop');
  const failed = await run('backups', 'create', '--app', 'shop');
  assert.equal(failed.code, 1);
  assert.equal(failed.out, '');
  assert.match(failed.err, /^berth: backup 1 of shop's redis failed: BGSAVE failed: connection refused \[BERTH_E_BACKUP_FAILED\]\nhint: /);

  const list = await run('backups', 'list', '--app', 'shop');
  assert.match(list.out, new RegExp(`\n1 +redis +manual +FAILED +${TIME} +- +- +- +BGSAVE failed: connection refused\n$`));
  assert.match(list.err, /^warning: the newest redis backup \(1, .*\) failed: BGSAVE failed: connection refused\n$/);

  await run('addons', 'create', 'sqlite', '--app', 'shop');
  const which = await run('backups', 'create', '--app', 'shop');
  assert.equal(which.code, 1);
  assert.equal(which.err, 'berth: the app shop has 2 add-ons (redis, sqlite), so --addon must name one [BERTH_E_USAGE]\nhint: Add --addon redis or --addon sqlite.\n');
});

test('backups restore takes --app as every app command does, and refuses a backup of another app', async (t) => {
  const { api, run } = await setup(t);
  api.createApp('blog');
  await run('addons', 'create', 'sqlite', '--app', 'shop');
  assert.equal((await run('backups', 'create', '--app', 'shop')).code, 0);

  const over = await run('backups', 'restore', '1', '--app', 'shop', '--confirm', 'shop');
  assert.equal(over.code, 0, over.err);
  assert.match(over.out, /^restored backup 1 \(sqlite of shop, .*\) into the app: /);
  const beside = await run('backups', 'restore', '1', '--app', 'shop', '--into', 'new');
  assert.equal(beside.code, 0, beside.err);

  for (const argv of [['--into', 'new'], ['--confirm', 'blog']]) {
    const other = await run('backups', 'restore', '1', '--app', 'blog', ...argv);
    assert.equal(other.code, 1);
    assert.equal(other.out, '');
    assert.equal(other.err, "berth: backup 1 is a backup of shop, not of blog; nothing was restored [BERTH_E_BACKUP_NOT_FOUND]\nhint: berth backups list --app blog shows blog's backups.\n");
  }
  // --confirm must match --app before anything is sent.
  const mismatch = await run('backups', 'restore', '1', '--app', 'shop', '--confirm', 'blog');
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.err, /^berth: --confirm "blog" does not match shop; nothing was changed \[BERTH_E_CONFIRM\]/);
  const bad = await run('backups', 'restore', '1', '--app', 'bad;name', '--into', 'new');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /BERTH_E_NAME/);
});

test("a re-created app lists none of its destroyed namesake's backups; the old ones stay restorable by id", async (t) => {
  const { api, run } = await setup(t);
  await run('addons', 'create', 'sqlite', '--app', 'shop');
  assert.equal((await run('backups', 'create', '--app', 'shop')).code, 0);
  assert.equal((await run('addons', 'destroy', 'sqlite', '--app', 'shop', '--confirm', 'shop')).code, 0);
  const [final] = api.store.listBackups('shop');
  assert.ok(final?.file, 'the final backup has its file');
  api.store.destroyApp('shop');

  api.createApp('shop');
  const list = await run('backups', 'list', '--app', 'shop');
  assert.equal(list.code, 0, list.err);
  assert.equal(list.out, 'shop has no backups yet; make one with: berth backups create --app shop\n');
  assert.equal(list.err, '');
  assert.equal(existsSync(final.file), true, 'the old files stay where they were');

  // The operator's way back: the add-on again, then the old backup by id.
  await run('addons', 'create', 'sqlite', '--app', 'shop');
  const restored = await run('backups', 'restore', String(final.id), '--app', 'shop', '--into', 'new');
  assert.equal(restored.code, 0, restored.err);
  const made = await run('backups', 'create', '--app', 'shop');
  assert.equal(made.code, 0, made.err);
  assert.deepEqual(JSON.parse((await run('backups', 'list', '--app', 'shop', '--json')).out).backups.map((b: { id: number }) => b.id), [final.id + 1]);
});

test('backups create --help says when --addon is needed', async (t) => {
  const env = await testEnv(t);
  const help = await berth(['backups', 'create', '--help'], { env });
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: berth backups create --app NAME \[--addon KIND\]\n/);
  assert.match(help.out.replace(/\s+/g, ' '), /--addon may be left out only when the app has a single add-on/);
});

test('addons destroy and storage destroy with --confirm: a final backup for the add-on, a release without the vars', async (t) => {
  const { api, run } = await setup(t);
  await run('addons', 'create', 'sqlite', '--app', 'shop');
  const destroyed = await run('addons', 'destroy', 'sqlite', '--app', 'shop', '--confirm', 'shop');
  assert.equal(destroyed.code, 0, destroyed.err);
  assert.match(
    destroyed.out,
    /^destroyed the sqlite add-on of shop\nfinal backup: 1 \(shop-sqlite-\S+\.sqlite\.gz, \d+ bytes\), never pruned\nto get the data back: berth addons create sqlite --app shop, then berth backups restore 1 --confirm shop\nrelease v3 is live\n$/,
  );
  assert.match((await run('backups', 'list', '--app', 'shop')).out, /\n1 +sqlite +final +good /);
  assert.deepEqual(api.store.listAddons('shop'), []);

  const storage = await run('storage', 'create', '--app', 'shop');
  assert.equal(storage.code, 0, storage.err);
  assert.equal(storage.out, `created storage for shop at ${api.stateDir}/data/shop: set BERTH_DATA_DIR\nrelease v4 is live\n`);
  const info = await run('storage', 'info', '--app', 'shop');
  assert.match(info.out, new RegExp(`^app: +shop\nkind: +storage\ncreated: +${TIME}\nvars: +BERTH_DATA_DIR\ndir: +${api.stateDir}/data/shop\n$`));
  const gone = await run('storage', 'destroy', '--app', 'shop', '--confirm', 'shop');
  assert.equal(gone.code, 0, gone.err);
  assert.equal(gone.out, 'destroyed the storage of shop\nrelease v5 is live\n');
  assert.equal((await run('storage', 'info', '--app', 'shop')).code, 1);
});

test('arguments are checked before any call', async (t) => {
  // Nothing listens here: a call would be BERTH_E_UNREACHABLE, not the refusal.
  const env = await testEnv(t, { url: 'http://127.0.0.1:9', token: 'berth_unused' });
  const cases: Array<[string[], RegExp]> = [
    [['addons', 'create', 'mysql', '--app', 'shop'], /"mysql" is not an add-on kind berth provides \[BERTH_E_ADDON_KIND\]/],
    [['addons', 'create', 'storage', '--app', 'shop'], /storage is not an add-on kind \[BERTH_E_USAGE\]\nhint: A data folder alone: berth storage create --app shop/],
    [['addons', 'info', 'sqlite', '--app', 'Shop'], /\[BERTH_E_NAME\]/],
    [['addons', 'list', '--app', '../x'], /\[BERTH_E_NAME\]/],
    [['addons', 'destroy', 'sqlite', '--app', 'shop', '--confirm', 'shoe'], /^berth: --confirm "shoe" does not match shop; nothing was changed \[BERTH_E_CONFIRM\]\nhint: To go ahead: berth addons destroy sqlite --app shop --confirm shop\n$/],
    [['storage', 'destroy', '--app', 'shop', '--confirm', 'blog'], /does not match shop; nothing was changed \[BERTH_E_CONFIRM\]/],
    [['backups', 'create', '--app', 'shop', '--addon', 'mongo'], /\[BERTH_E_ADDON_KIND\]/],
    [['backups', 'restore', 'latest'], /"latest" is not a backup id \[BERTH_E_USAGE\]/],
    [['backups', 'restore', '3', '--into', 'old'], /--into must be app or new, not old \[BERTH_E_USAGE\]/],
    [['backups', 'schedule', '--app', 'shop', '--off', '--cron', '0 3 * * *'], /--off takes no --cron, --timezone or --keep \[BERTH_E_USAGE\]/],
    [['backups', 'schedule', '--app', 'shop', '--keep', '3'], /--timezone and --keep go with --cron \[BERTH_E_USAGE\]/],
    [['backups', 'schedule', '--app', 'shop', '--cron', '0 3 * * *', '--keep', '0'], /--keep must be a whole number from 1 to 365/],
    [['backups', 'schedule', '--app', 'shop', '--cron', '0 3 * * *', '--keep', 'all'], /--keep must be a whole number from 1 to 365/],
  ];
  for (const [argv, expected] of cases) {
    const result = await berth(argv, { env });
    assert.equal(result.code, 1, argv.join(' '));
    assert.match(result.err, expected, argv.join(' '));
    assert.doesNotMatch(result.err, /BERTH_E_UNREACHABLE/, argv.join(' '));
  }
  for (const argv of [['addons', 'create', '--app', 'shop'], ['backups', 'list'], ['storage', 'create']]) {
    assert.equal((await berth(argv, { env })).code, 2, argv.join(' '));
  }
  for (const argv of [['addons'], ['addons', 'destroy'], ['storage', 'destroy'], ['backups', 'restore'], ['backups', 'schedule']]) {
    const help = await berth([...argv, '--help'], { env });
    assert.equal(help.code, 0, argv.join(' '));
    assert.match(help.out, /^Usage: berth /, argv.join(' '));
  }
});

test('without --confirm and without a terminal, destroys and restores into the app are refused and change nothing', async (t) => {
  const { api, env, run } = await setup(t);
  await run('addons', 'create', 'sqlite', '--app', 'shop');
  await run('storage', 'create', '--app', 'shop');
  await run('backups', 'create', '--app', 'shop');
  const checks: Array<[string[], RegExp]> = [
    [['addons', 'destroy', 'sqlite', '--app', 'shop'], /^berth: destroying the sqlite add-on of shop needs --confirm shop \[BERTH_E_CONFIRM\]\nhint: This drops the sqlite data of shop for good, after a final backup\. To go ahead: berth addons destroy sqlite --app shop --confirm shop\n$/],
    [['storage', 'destroy', '--app', 'shop'], /^berth: destroying the storage of shop needs --confirm shop \[BERTH_E_CONFIRM\]\nhint: This deletes the data folder of shop and every file in it; no backup is made\. To go ahead: berth storage destroy --app shop --confirm shop\n$/],
    // Only the server knows whose backup 1 is: it refuses, naming the app.
    [['backups', 'restore', '1'], /^berth: restoring backup 1 over shop's sqlite data needs --confirm shop \[BERTH_E_CONFIRM\]\nhint: To go ahead: berth backups restore 1 --confirm shop\n$/],
  ];
  for (const [argv, expected] of checks) {
    const result = await unattended(env, ...argv);
    assert.equal(result.code, 1, argv.join(' '));
    assert.equal(result.out, '', argv.join(' '));
    assert.match(result.err, expected, argv.join(' '));
  }
  assert.deepEqual(api.store.listAddons('shop').map((a) => a.kind).sort(), ['sqlite', 'storage']);
  assert.equal(api.store.listBackups('shop').length, 1, 'no final backup was made');
});

test('on a terminal, destroy asks for the app name: the right name goes ahead, another is refused', async (t) => {
  const { api, env, run } = await setup(t);
  await run('addons', 'create', 'sqlite', '--app', 'shop');

  const refused = await onTerminal(env, 'shoe', 'addons', 'destroy', 'sqlite', '--app', 'shop');
  assert.equal(refused.code, 1, refused.screen);
  assert.match(refused.screen, /This drops the sqlite data of shop for good, after a final backup\.\nType the app name \(shop\) to confirm: shoe\n/);
  assert.match(refused.screen, /berth: the name typed does not match shop; nothing was changed \[BERTH_E_CONFIRM\]/);
  assert.equal(api.store.listAddons('shop').length, 1);

  const confirmed = await onTerminal(env, 'shop', 'addons', 'destroy', 'sqlite', '--app', 'shop');
  assert.equal(confirmed.code, 0, confirmed.screen);
  assert.match(confirmed.screen, /to confirm: shop\ndestroyed the sqlite add-on of shop\nfinal backup: 1 /);
  assert.deepEqual(api.store.listAddons('shop'), []);
});


test('confirmation: --confirm must match; a typed name is trimmed; giving up at the question (Ctrl-C, Ctrl-D) is a refusal', async () => {
  const base = { app: 'shop', what: 'destroying the redis add-on of shop', consequence: 'This drops it.', command: 'berth addons destroy redis --app shop' };
  const never = async (): Promise<string | null> => assert.fail('not asked when --confirm is given');
  assert.equal(await confirmation({ ...base, given: 'shop' }, never), 'shop');
  await assert.rejects(confirmation({ ...base, given: 'Shop' }, never), { code: 'BERTH_E_CONFIRM', message: '--confirm "Shop" does not match shop; nothing was changed' });
  const asked: string[] = [];
  assert.equal(await confirmation({ ...base, given: undefined }, async (preamble, question) => (asked.push(preamble, question), ' shop ')), 'shop');
  assert.deepEqual(asked, ['This drops it.\n', 'Type the app name (shop) to confirm: ']);
  await assert.rejects(confirmation({ ...base, given: undefined }, async () => null), { code: 'BERTH_E_CONFIRM', message: 'destroying the redis add-on of shop needs --confirm shop' });
  // A restore names a backup: what was typed goes to the server, which knows the app.
  assert.equal(await confirmation({ ...base, app: null, given: undefined }, async () => 'blog'), 'blog');
});
