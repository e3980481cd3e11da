import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GOOD_TOKEN, startFakeDaemon, type FakeDaemon } from './fake-daemon.ts';
import { berth, testEnv } from './run-berth.ts';

async function setup(t: { after(fn: () => unknown): void }): Promise<{ daemon: FakeDaemon; run: (...argv: string[]) => ReturnType<typeof berth> }> {
  const daemon = await startFakeDaemon(t);
  const env = await testEnv(t, { url: daemon.url, token: GOOD_TOKEN });
  return { daemon, run: (...argv) => berth(argv, { env }) };
}

test('apps create, list (table and --json), info, destroy', async (t) => {
  const { daemon, run } = await setup(t);
  const empty = await run('apps', 'list');
  assert.equal(empty.out, 'no apps yet; create one with: berth apps create NAME\n');

  const created = await run('apps', 'create', 'shop');
  assert.equal(created.code, 0, created.err);
  assert.equal(created.out, 'created shop at http://shop.localhost\ndeploy it with: berth deploy --app shop\n');
  await run('apps', 'create', 'blog-2');

  const list = await run('apps', 'list');
  assert.equal(
    list.out,
    [
      'NAME    RELEASE  URL                      CREATED',
      'shop    -        http://shop.localhost    2026-01-02 03:04:05 UTC',
      'blog-2  -        http://blog-2.localhost  2026-01-02 03:04:05 UTC',
      '',
    ].join('\n'),
  );
  const json = await run('apps', 'list', '--json');
  assert.deepEqual(JSON.parse(json.out), { apps: [...daemon.apps.values()].map((a) => ({ name: a.name, createdAt: a.createdAt, url: `http://${a.name}.localhost`, currentRelease: null })) });

  daemon.apps.get('shop')!.formation = { web: 2 };
  daemon.apps.get('shop')!.domains = ['shop.example.com'];
  const info = await run('apps', 'info', 'shop');
  assert.equal(info.code, 0, info.err);
  assert.equal(
    info.out,
    [
      'app:        shop',
      'url:        http://shop.localhost',
      'created:    2026-01-02 03:04:05 UTC',
      'release:    none yet (berth deploy --app shop)',
      'released:   -',
      'formation:  web=2',
      'domains:    shop.example.com',
      'disk:       1.5 MiB of 10 GiB (releases 1.0 MiB, logs 512 KiB)',
      'sandbox:    uncontained: berth is not running as root',
      '',
      'INSTANCE  STATE  RELEASE  PID   PORT',
      'web.1     ready  -        1000  9000',
      'web.2     ready  -        1001  9001',
      '',
    ].join('\n'),
  );
  assert.equal(JSON.parse((await run('apps', 'info', 'shop', '--json')).out).app.name, 'shop');

  const destroyed = await run('apps', 'destroy', 'blog-2', '--confirm', 'blog-2');
  assert.equal(destroyed.out, 'destroyed blog-2\n');
  assert.equal(daemon.apps.has('blog-2'), false);
  assert.equal(daemon.requests.at(-1)!.url, '/apps/blog-2?confirm=blog-2');
});

test('apps destroy without a matching --confirm is refused before any call', async (t) => {
  const { daemon, run } = await setup(t);
  await run('apps', 'create', 'shop');
  const calls = daemon.requests.length;
  const none = await run('apps', 'destroy', 'shop');
  assert.equal(none.code, 1);
  assert.match(none.err, /^berth: destroying shop needs --confirm shop \[BERTH_E_USAGE\]\nhint: This deletes shop .* berth apps destroy shop --confirm shop\n$/);
  const wrong = await run('apps', 'destroy', 'shop', '--confirm', 'shoe');
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /^berth: --confirm shoe does not match shop; nothing was destroyed \[BERTH_E_USAGE\]/);
  assert.equal(daemon.requests.length, calls);
  assert.equal(daemon.apps.has('shop'), true);
});

test('API errors print "berth: MESSAGE [CODE]" and "hint: HINT", exit 1', async (t) => {
  const { run } = await setup(t);
  await run('apps', 'create', 'shop');
  const exists = await run('apps', 'create', 'shop');
  assert.equal(exists.code, 1);
  assert.equal(exists.err, 'berth: an app named shop already exists [BERTH_E_APP_EXISTS]\nhint: Pick another name.\n');
  const missing = await run('releases', '--app', 'nope');
  assert.equal(missing.err, 'berth: no app is named nope [BERTH_E_APP_NOT_FOUND]\nhint: Check `berth apps list`.\n');
});

test('names are checked before any call, with the server\'s rules', async (t) => {
  const { daemon, run } = await setup(t);
  for (const argv of [
    ['apps', 'create', 'Shop'],
    ['apps', 'info', '../tokens'],
    ['releases', '--app', 'a--b'],
    ['domains', 'add', 'http://x.com', '--app', 'shop'],
    ['tokens', 'create', 'CI'],
    ['rollback', 'latest', '--app', 'shop'],
  ]) {
    const result = await run(...argv);
    assert.equal(result.code, 1, argv.join(' '));
    assert.match(result.err, /\[BERTH_E_NAME\]\nhint: /, argv.join(' '));
  }
  assert.equal(daemon.requests.length, 0);
});

test('usage errors from the argument parser exit 2 with a one-line message', async (t) => {
  const { run } = await setup(t);
  const missingApp = await run('releases');
  assert.equal(missingApp.code, 2);
  assert.match(missingApp.err, /error: required option '--app <name>' not specified/);
  const extra = await run('apps', 'info', 'a', 'b');
  assert.equal(extra.code, 2);
  assert.match(extra.err, /error: too many arguments/);
  const unknown = await run('ps', '--app', 'shop', '--colour');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /error: unknown option '--colour'/);
});

test('every remote command has --help', async (t) => {
  const { run } = await setup(t);
  for (const argv of [
    ['login'],
    ['apps'],
    ['apps', 'create'],
    ['apps', 'list'],
    ['apps', 'info'],
    ['apps', 'destroy'],
    ['deploy'],
    ['releases'],
    ['rollback'],
    ['config'],
    ['config', 'set'],
    ['config', 'unset'],
    ['config', 'list'],
    ['scale'],
    ['ps'],
    ['restart'],
    ['logs'],
    ['domains'],
    ['domains', 'add'],
    ['domains', 'remove'],
    ['domains', 'list'],
    ['tokens'],
    ['tokens', 'create'],
    ['tokens', 'list'],
    ['tokens', 'revoke'],
  ]) {
    const help = await run(...argv, '--help');
    assert.equal(help.code, 0, argv.join(' '));
    assert.match(help.out, new RegExp(`^Usage: berth ${argv.join(' ')}`), argv.join(' '));
  }
});

test('releases (table and --json) and rollback, to the previous release or a named one', async (t) => {
  const { daemon, run } = await setup(t);
  await run('apps', 'create', 'shop');
  const none = await run('releases', '--app', 'shop');
  assert.equal(none.out, 'shop has no releases yet; deploy with: berth deploy --app shop\n');
  await run('config', 'set', 'A=1', '--app', 'shop');
  await run('config', 'set', 'B=2', '--app', 'shop');
  const table = await run('releases', '--app', 'shop');
  assert.equal(
    table.out,
    [
      'RELEASE  STATUS     KIND    CREATED                  DESCRIPTION',
      'v2       current    config  2026-01-02 03:04:05 UTC  Config change',
      'v1       succeeded  config  2026-01-02 03:04:05 UTC  Config change',
      '',
    ].join('\n'),
  );
  assert.equal(JSON.parse((await run('releases', '--app', 'shop', '--json')).out).releases.length, 2);

  const back = await run('rollback', '--app', 'shop');
  assert.equal(back.code, 0, back.err);
  assert.equal(back.out, 'rolled back shop: v3 (Rollback to v1) is live\n');
  assert.equal(daemon.requests.at(-1)!.body, '{}');
  const named = await run('rollback', 'v2', '--app', 'shop');
  assert.equal(named.out, 'rolled back shop: v4 (Rollback to v2) is live\n');
  assert.equal(daemon.requests.at(-1)!.body, '{"version":2}');
  const nothing = await run('rollback', 'v9', '--app', 'shop');
  assert.equal(nothing.err, 'berth: there is nothing to roll back to [BERTH_E_ROLLBACK]\n');
});

test('config set (values with "="), unset, list with values hidden unless --reveal; values never printed otherwise', async (t) => {
  const { daemon, run } = await setup(t);
  await run('apps', 'create', 'shop');
  const empty = await run('config', 'list', '--app', 'shop');
  assert.equal(empty.out, 'shop has no config vars; set some with: berth config set KEY=VALUE --app shop\n');

  const set = await run('config', 'set', 'DATABASE_URL=postgres://u:hunter2@db/shop?sslmode=require', 'SECRET_KEY=s3cr3t==', '--app', 'shop');
  assert.equal(set.code, 0, set.err);
  assert.equal(set.out, 'set DATABASE_URL and SECRET_KEY on shop: release v1 is live\n');
  assert.deepEqual(JSON.parse(daemon.requests.at(-1)!.body), { set: { DATABASE_URL: 'postgres://u:hunter2@db/shop?sslmode=require', SECRET_KEY: 's3cr3t==' } });
  assert.equal(daemon.requests.at(-1)!.method, 'PATCH');

  const hidden = await run('config', 'list', '--app', 'shop');
  assert.equal(hidden.out, 'KEY           VALUE\nDATABASE_URL  ***\nSECRET_KEY    ***\n');
  assert.equal(daemon.requests.at(-1)!.url, '/apps/shop/config');
  const hiddenJson = await run('config', 'list', '--app', 'shop', '--json');
  assert.deepEqual(JSON.parse(hiddenJson.out), { config: { DATABASE_URL: null, SECRET_KEY: null } });
  for (const output of [set, hidden, hiddenJson]) assert.doesNotMatch(output.out + output.err, /hunter2|s3cr3t/);

  const revealed = await run('config', 'list', '--app', 'shop', '--reveal');
  assert.equal(revealed.out, 'KEY           VALUE\nDATABASE_URL  postgres://u:hunter2@db/shop?sslmode=require\nSECRET_KEY    s3cr3t==\n');
  assert.equal(daemon.requests.at(-1)!.url, '/apps/shop/config?reveal=1');

  const unset = await run('config', 'unset', 'SECRET_KEY', '--app', 'shop');
  assert.equal(unset.out, 'unset SECRET_KEY on shop: release v2 is live\n');
  assert.deepEqual(JSON.parse(daemon.requests.at(-1)!.body), { unset: ['SECRET_KEY'] });
  assert.deepEqual(Object.keys(daemon.apps.get('shop')!.config), ['DATABASE_URL']);
});

test('config set --stdin reads KEY=VALUE lines (comments, export, quotes), keeping values out of argv', async (t) => {
  const daemon = await startFakeDaemon(t);
  const env = await testEnv(t, { url: daemon.url, token: GOOD_TOKEN });
  await berth(['apps', 'create', 'shop'], { env });
  const input = '# production\nexport DATABASE_URL="postgres://u:hunter2@db/shop"\n\nSECRET_KEY=s3cr3t==\nQUOTE=\'it"s\'\n';
  const set = await berth(['config', 'set', '--stdin', '--app', 'shop'], { env, readStdin: async () => input });
  assert.equal(set.code, 0, set.err);
  assert.equal(set.out, 'set DATABASE_URL, SECRET_KEY and QUOTE on shop: release v1 is live\n');
  assert.deepEqual(JSON.parse(daemon.requests.at(-1)!.body), { set: { DATABASE_URL: 'postgres://u:hunter2@db/shop', SECRET_KEY: 's3cr3t==', QUOTE: 'it"s' } });
  const calls = daemon.requests.length;
  const both = await berth(['config', 'set', 'A=1', '--stdin', '--app', 'shop'], { env, readStdin: async () => 'B=2' });
  assert.match(both.err, /give KEY=VALUE pairs or --stdin, not both/);
  const badLine = await berth(['config', 'set', '--stdin', '--app', 'shop'], { env, readStdin: async () => 'A=1\nhunter2\n' });
  assert.match(badLine.err, /standard input line 2 is not KEY=VALUE \[BERTH_E_USAGE\]/);
  assert.doesNotMatch(badLine.err, /hunter2/);
  const empty = await berth(['config', 'set', '--stdin', '--app', 'shop'], { env, readStdin: async () => '# nothing\n' });
  assert.match(empty.err, /nothing to set/);
  assert.equal(daemon.requests.length, calls, 'no call for refused input');
});

test('config set refuses bad keys before any call, and never echoes a value', async (t) => {
  const { daemon, run } = await setup(t);
  const calls = daemon.requests.length;
  const bad = await run('config', 'set', 'MY-KEY=hunter2', '--app', 'shop');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^berth: "MY-KEY" is not a valid config var name \[BERTH_E_NAME\]/);
  const keyless = await run('config', 'set', 'postgres://u:hunter2@db', '--app', 'shop');
  assert.equal(keyless.code, 1);
  assert.doesNotMatch(bad.err + keyless.err, /hunter2/);
  assert.equal(daemon.requests.length, calls);
});

test('scale, ps (table and --json) and restart', async (t) => {
  const { daemon, run } = await setup(t);
  await run('apps', 'create', 'shop');
  const scaled = await run('scale', 'web=3', 'worker=1', '--app', 'shop');
  assert.equal(scaled.code, 0, scaled.err);
  assert.equal(scaled.out, 'scaled shop: web=3 worker=1\n');
  assert.equal(daemon.requests.at(-1)!.method, 'PUT');
  assert.deepEqual(JSON.parse(daemon.requests.at(-1)!.body), { web: 3, worker: 1 });
  const bad = await run('scale', 'web=100', '--app', 'shop');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^berth: "100" is not a number of web instances \[BERTH_E_SCALE\]\nhint: Use TYPE=COUNT/);

  const ps = await run('ps', '--app', 'shop');
  assert.equal(ps.out, 'INSTANCE  STATE    RELEASE  PID   PORT\nweb.1     ready    v1       4242  9001\nweb.2     crashed  v1       -     -\n');
  assert.equal(JSON.parse((await run('ps', '--app', 'shop', '--json')).out).instances[1].state, 'crashed');

  const restarted = await run('restart', '--app', 'shop');
  assert.equal(restarted.out, 'restarted shop\n');
  assert.equal(daemon.requests.at(-1)!.url, '/apps/shop/restart');
});

test('domains add, list (table and --json), remove', async (t) => {
  const { daemon, run } = await setup(t);
  await run('apps', 'create', 'shop');
  assert.equal((await run('domains', 'list', '--app', 'shop')).out, 'shop has no domains; add one with: berth domains add HOST --app shop\n');
  const added = await run('domains', 'add', 'Shop.Example.com', '--app', 'shop');
  assert.equal(added.out, 'added shop.example.com to shop\n');
  assert.deepEqual(JSON.parse(daemon.requests.at(-1)!.body), { hostname: 'shop.example.com' });
  await run('domains', 'add', 'www.shop.example.com', '--app', 'shop');
  assert.equal((await run('domains', 'list', '--app', 'shop')).out, 'DOMAIN\nshop.example.com\nwww.shop.example.com\n');
  assert.deepEqual(JSON.parse((await run('domains', 'list', '--app', 'shop', '--json')).out), { domains: ['shop.example.com', 'www.shop.example.com'] });
  const removed = await run('domains', 'remove', 'shop.example.com', '--app', 'shop');
  assert.equal(removed.out, 'removed shop.example.com from shop\n');
  assert.equal(daemon.requests.at(-1)!.url, '/apps/shop/domains/shop.example.com');
  const again = await run('domains', 'remove', 'shop.example.com', '--app', 'shop');
  assert.equal(again.err, 'berth: shop has no domain shop.example.com [BERTH_E_DOMAIN_NOT_FOUND]\n');
});

test('tokens create prints the new token alone on stdout (this once), list never shows values, revoke', async (t) => {
  const { run } = await setup(t);
  const created = await run('tokens', 'create', 'ci');
  assert.equal(created.code, 0, created.err);
  assert.equal(created.out, 'berth_new_ci_secret\n');
  assert.match(created.err, /^created the token ci; it is shown only this once/);
  assert.deepEqual(JSON.parse((await run('tokens', 'create', 'laptop.alice', '--json')).out), { token: 'berth_new_laptop.alice_secret', name: 'laptop.alice' });

  const revoked = await run('tokens', 'revoke', 'ci');
  assert.equal(revoked.out, 'revoked ci\n');
  const list = await run('tokens', 'list');
  assert.equal(
    list.out,
    [
      'NAME          CREATED                  LAST USED                REVOKED',
      'admin         2026-01-02 03:04:05 UTC  2026-01-02 03:04:05 UTC  -',
      'ci            2026-01-02 03:04:05 UTC  -                        2026-01-02 03:04:05 UTC',
      'laptop.alice  2026-01-02 03:04:05 UTC  -                        -',
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(list.out, /secret/);
  assert.equal(JSON.parse((await run('tokens', 'list', '--json')).out).tokens.length, 3);
  const missing = await run('tokens', 'revoke', 'nope');
  assert.equal(missing.err, 'berth: no token is named nope [BERTH_E_TOKEN_NOT_FOUND]\n');
});
