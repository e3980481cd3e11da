// app.json through the real CLI and daemon, as root with apps sandboxed:
// a required var refuses the first deploy, values and a generated secret
// fill the config once (kept on redeploy, an unset one stays unset), the
// formation applies to the first deploy only, predeploy runs before the
// release command on every deploy (its failure stops the deploy),
// postdeploy after the first release only, and the cron entries are listed
// by `berth cron` and run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, runBerth } from '../helpers/berth-process.ts';
import { apiCall, startDaemon, viaEdge } from '../helpers/daemon.ts';

/** `node record.mjs KIND [fail]`: appends "KIND RELEASE DYNO" to $HOME/events.log; exits 1 with "fail". */
const RECORD = `
import { appendFileSync } from 'node:fs';
appendFileSync(process.env.HOME + '/events.log', [process.argv[2], process.env.BERTH_RELEASE, process.env.DYNO].join(' ') + '\\n');
console.log('recorded ' + process.argv[2]);
if (process.argv[3] === 'fail') process.exit(1);
`;

/** The web process answers with what it was given and the events so far. */
const WEB = `
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
createServer((req, res) => {
  let events = [];
  try { events = readFileSync(process.env.HOME + '/events.log', 'utf8').trim().split('\\n'); } catch {}
  const pick = ['SECRET_KEY', 'GREETING', 'API_TOKEN', 'BERTH_RELEASE'];
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ env: Object.fromEntries(pick.map((k) => [k, process.env[k] ?? null])), events }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

const SANDBOX = ['--sandbox', 'required'];

function manifest(overrides: { quantity?: number; predeploy?: string } = {}): string {
  return JSON.stringify({
    name: 'Shop',
    logo: 'https://example.com/logo.svg',
    buildpacks: [{ url: 'heroku/nodejs' }],
    addons: ['heroku-postgresql:essential-0'],
    env: {
      SECRET_KEY: { description: 'signs sessions', generator: 'secret' },
      GREETING: { value: 'hello' },
      API_TOKEN: { description: 'the payment API token' },
    },
    formation: { web: { quantity: overrides.quantity ?? 2 } },
    scripts: { predeploy: overrides.predeploy ?? 'node record.mjs predeploy', postdeploy: 'node record.mjs postdeploy' },
    cron: [{ command: 'node record.mjs cron', schedule: '* * * * * *' }],
  });
}

test('app.json: required vars, defaults and a secret set once, first formation, predeploy, postdeploy and cron, through the CLI', { timeout: 300_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test runs as root: apps run sandboxed as their own users');
  const root = await mkdtemp(join(tmpdir(), 'berth-app-json-'));
  const d = await startDaemon(join(root, 'state'), 1, SANDBOX);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const env = { BERTH_SERVER: d.api, BERTH_TOKEN: d.token, XDG_CONFIG_HOME: join(root, 'config') };
  const berth = (...args: string[]) => runBerth(args, { env, timeoutMs: 240_000 });
  const dir = join(root, 'app');
  await mkdir(dir);
  await writeFile(join(dir, 'record.mjs'), RECORD);
  await writeFile(join(dir, 'server.mjs'), WEB);
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\nrelease: node record.mjs release\n');
  await writeFile(join(dir, 'app.json'), manifest());
  const serving = async () => JSON.parse((await viaEdge(d.edge, 'shop.localhost')).body) as { env: Record<string, string | null>; events: string[] };
  const secretOf = async () => (await apiCall(d, 'GET', '/apps/shop/config?reveal=1')).json.config.SECRET_KEY as string | undefined;

  assert.equal((await berth('apps', 'create', 'shop')).code, 0);

  // A required var the app lacks: refused before anything is built or set.
  const refused = await berth('deploy', dir, '--app', 'shop');
  assert.equal(refused.code, 1, refused.output);
  assert.match(refused.output, /app\.json: ignoring "buildpacks" \(berth does not use it\)/);
  assert.match(refused.output, /create them with berth addons create postgres \(for "heroku-postgresql:essential-0"\)/);
  assert.match(refused.output, /app\.json requires API_TOKEN \(the payment API token\), which the app does not have; nothing was built \[BERTH_E_CONFIG_REQUIRED\]/);
  assert.match(refused.output, /hint: Set it, then deploy again: berth config set API_TOKEN=\.\.\. --app shop/);
  assert.doesNotMatch(refused.output, /running app\.json's predeploy/);
  assert.deepEqual((await apiCall(d, 'GET', '/apps/shop/config?reveal=1')).json.config, {}, 'nothing was filled in');
  assert.deepEqual((await apiCall(d, 'GET', '/apps/shop/releases')).json.releases, []);

  // With it set, the first deploy fills the rest, scales, and runs the scripts in order.
  assert.equal((await berth('config', 'set', 'API_TOKEN=t0ken', '--app', 'shop')).code, 0);
  const first = await berth('deploy', dir, '--app', 'shop');
  assert.equal(first.code, 0, first.output);
  assert.match(first.output, /app\.json: SECRET_KEY set to a generated secret/);
  assert.match(first.output, /app\.json: GREETING set to app\.json's value/);
  assert.match(first.output, /app\.json: formation web=2 \(from now on, berth scale decides\)/);
  assert.match(first.output, /running app\.json's predeploy: node record\.mjs predeploy/);
  assert.match(first.output, /app\.json's postdeploy succeeded/);
  const secret = await secretOf();
  assert.match(secret ?? '', /^[0-9a-f]{64}$/);
  assert.ok(!first.output.includes(secret!), 'the secret is never printed');
  assert.ok(!d.berth.output.includes(secret!), "the secret is not in the daemon's log");
  const v1 = await serving();
  assert.deepEqual(v1.env, { SECRET_KEY: secret, GREETING: 'hello', API_TOKEN: 't0ken', BERTH_RELEASE: 'v1' });
  assert.deepEqual(v1.events, ['predeploy v1 predeploy.1', 'release v1 release.1', 'postdeploy v1 postdeploy.1']);
  const instances = (await apiCall(d, 'GET', '/apps/shop/ps')).json.instances as Array<{ name: string; release: string }>;
  assert.deepEqual(instances.map((i) => `${i.name} ${i.release}`).sort(), ['web.1 v1', 'web.2 v1']);

  // The cron entry is a berth job: listed, and run in the release with its DYNO.
  const listed = await berth('cron', '--app', 'shop');
  assert.equal(listed.code, 0, listed.output);
  const job = /^(node-record-mjs-cron-[0-9a-f]{6})\s+\* \* \* \* \* \*\s/m.exec(listed.output)?.[1];
  assert.ok(job, listed.output);
  await eventually('the cron entry ran', async () => (await serving()).events.includes(`cron v1 scheduler.${job}`), 30_000);

  // A second deploy: the user's choices win (scale, an unset var), the secret stays, predeploy again, postdeploy not.
  assert.equal((await berth('scale', 'web=1', '--app', 'shop')).code, 0);
  assert.equal((await berth('config', 'unset', 'GREETING', '--app', 'shop')).code, 0);
  await writeFile(join(dir, 'app.json'), manifest({ quantity: 3 }));
  const second = await berth('deploy', dir, '--app', 'shop');
  assert.equal(second.code, 0, second.output);
  assert.doesNotMatch(second.output, /set to a generated secret|set to app\.json's value|app\.json: formation/);
  assert.doesNotMatch(second.output, /running app\.json's postdeploy/);
  assert.equal(await secretOf(), secret);
  const v3 = await serving();
  assert.deepEqual(v3.env, { SECRET_KEY: secret, GREETING: null, API_TOKEN: 't0ken', BERTH_RELEASE: 'v3' });
  assert.deepEqual(v3.events.filter((e) => !e.startsWith('cron ')), [
    'predeploy v1 predeploy.1',
    'release v1 release.1',
    'postdeploy v1 postdeploy.1',
    'release v2 release.1', // the config release of `config unset`: its release command, no predeploy
    'predeploy v3 predeploy.1',
    'release v3 release.1',
  ]);
  assert.deepEqual((await apiCall(d, 'GET', '/apps/shop')).json.formation, { web: 1 });

  // A failing predeploy stops the deploy before the release command; the previous release keeps serving.
  await writeFile(join(dir, 'app.json'), manifest({ predeploy: 'node record.mjs predeploy fail' }));
  const failed = await berth('deploy', dir, '--app', 'shop');
  assert.equal(failed.code, 1, failed.output);
  assert.match(failed.output, /app\.json's predeploy failed with exit code 1 \[BERTH_E_PREDEPLOY_FAILED\]/);
  const after = await serving();
  assert.equal(after.env.BERTH_RELEASE, 'v3');
  assert.ok(after.events.includes('predeploy v4 predeploy.1'));
  assert.ok(!after.events.includes('release v4 release.1'), 'the release command did not run');
  const releases = (await apiCall(d, 'GET', '/apps/shop/releases')).json.releases as Array<{ version: number; status: string }>;
  assert.equal(releases.find((r) => r.version === 4)?.status, 'failed');
});

test('an invalid app.json refuses the build naming each key; berth.toml and app.json may not both scale a type; a failing postdeploy is reported and not run again', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-app-json-bad-'));
  const d = await startDaemon(join(root, 'state'), 1, SANDBOX);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const env = { BERTH_SERVER: d.api, BERTH_TOKEN: d.token, XDG_CONFIG_HOME: join(root, 'config') };
  const dir = join(root, 'app');
  await mkdir(dir);
  await writeFile(join(dir, 'server.mjs'), WEB);
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\n');
  await writeFile(join(dir, 'app.json'), JSON.stringify({ env: { WEB_CONCURRENCY: { value: 5 } }, cron: [{ command: 'x', schedule: 'sometimes' }] }));
  assert.equal((await runBerth(['apps', 'create', 'shop'], { env })).code, 0);
  const bad = await runBerth(['deploy', dir, '--app', 'shop'], { env, timeoutMs: 120_000 });
  assert.equal(bad.code, 1, bad.output);
  assert.match(bad.output, /app\.json: env\.WEB_CONCURRENCY\.value: a string, not a number \(write "5"\); cron\[0\]\.schedule: "sometimes" is not a usable cron schedule.* \[BERTH_E_APP_JSON\]/);

  await writeFile(join(dir, 'app.json'), JSON.stringify({ formation: { web: { quantity: 2 } } }));
  await writeFile(join(dir, 'berth.toml'), '[scale]\nweb = 3\n');
  const both = await runBerth(['deploy', dir, '--app', 'shop'], { env, timeoutMs: 120_000 });
  assert.equal(both.code, 1, both.output);
  assert.match(both.output, /app\.json: formation\.web: berth\.toml \[scale\] sets web too; keep one \[BERTH_E_APP_JSON\]/);
  assert.deepEqual((await apiCall(d, 'GET', '/apps/shop/releases')).json.releases, []);

  await rm(join(dir, 'berth.toml'));
  await writeFile(join(dir, 'record.mjs'), RECORD);
  await writeFile(join(dir, 'app.json'), JSON.stringify({ scripts: { postdeploy: 'node record.mjs postdeploy fail' } }));
  const deployed = await runBerth(['deploy', dir, '--app', 'shop'], { env, timeoutMs: 120_000 });
  assert.equal(deployed.code, 0, deployed.output);
  assert.match(deployed.output, /app\.json's postdeploy failed with exit code 1; v1 keeps serving, and the script is not run again/);
  const again = await runBerth(['deploy', dir, '--app', 'shop'], { env, timeoutMs: 120_000 });
  assert.equal(again.code, 0, again.output);
  assert.doesNotMatch(again.output, /postdeploy/);
  const served = JSON.parse((await viaEdge(d.edge, 'shop.localhost')).body) as { env: Record<string, string>; events: string[] };
  assert.equal(served.env.BERTH_RELEASE, 'v2');
  assert.deepEqual(served.events, ['postdeploy v1 postdeploy.1']);
});
