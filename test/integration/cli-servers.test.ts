// The CLI's credentials for several servers (issue 16), through the real CLI
// against two real daemons: a second login no longer replaces the first,
// --server / BERTH_SERVER pick a saved server per command, `servers use`
// changes the current one, `logout` forgets one, and a credentials file of
// the single-server form still works and is carried over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess } from '../helpers/berth-process.ts';
import { startDaemon, type Daemon } from '../helpers/daemon.ts';

/** Runs one CLI command to completion; stdout and stderr together. */
async function berth(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const run = new BerthProcess(args, { env });
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
  const { code } = await run.exited;
  clearTimeout(timer);
  return { code, output: run.output };
}

/** The names of the API tokens the chosen server has. */
async function tokenNames(args: string[], env: Record<string, string>): Promise<string[]> {
  const run = await berth(['tokens', 'list', '--json', ...args], env);
  assert.equal(run.code, 0, run.output);
  return (JSON.parse(run.output) as { tokens: Array<{ name: string }> }).tokens.map((token) => token.name).sort();
}

test('two servers saved side by side: login to both, pick per command and by default, log out of one; the old file form still works', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-cli-servers-'));
  const daemons: Daemon[] = [];
  t.after(() => Promise.all(daemons.map((d) => d.berth.kill())));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const name of ['one', 'two']) daemons.push(await startDaemon(join(root, `state-${name}`), 1, ['--sandbox', 'off']));
  const [a, b] = daemons as [Daemon, Daemon];
  const env = { XDG_CONFIG_HOME: join(root, 'config'), BERTH_SERVER: '', BERTH_TOKEN: '' };
  const file = join(root, 'config', 'berth', 'credentials.json');
  const nameA = new URL(a.api).host;

  const loginA = await berth(['login', '--server', a.api, '--token', a.token], env);
  assert.equal(loginA.code, 0, loginA.output);
  assert.match(loginA.output, new RegExp(`^logged in to ${a.api} as "${nameA}", now the current server; credentials saved in ${file}$`, 'm'));
  const loginB = await berth(['login', '--server', b.api, '--name', 'two', '--token', b.token], env);
  assert.equal(loginB.code, 0, loginB.output);
  assert.match(loginB.output, /^logged in to http:\/\/127\.0\.0\.1:\d+ as "two", now the current server \(1 other saved: berth servers\)/m);
  assert.equal((await stat(file)).mode & 0o777, 0o600);

  // Each daemon gets a token of its own name, made through the CLI: the current server (two), and one by --server.
  assert.equal((await berth(['tokens', 'create', 'made-on-two'], env)).code, 0);
  assert.equal((await berth(['tokens', 'create', 'made-on-one', '--server', nameA], env)).code, 0);
  assert.deepEqual(await tokenNames([], env), ['admin', 'made-on-two']);
  assert.deepEqual(await tokenNames(['--server', nameA], env), ['admin', 'made-on-one']);
  assert.deepEqual(await tokenNames(['--server', `${a.api}/`], env), ['admin', 'made-on-one'], 'a saved URL, normalised');
  assert.deepEqual(await tokenNames([], { ...env, BERTH_SERVER: nameA }), ['admin', 'made-on-one']);
  assert.deepEqual(await tokenNames(['--server', 'two'], { ...env, BERTH_SERVER: nameA }), ['admin', 'made-on-two'], '--server wins over BERTH_SERVER');

  const listed = await berth(['servers'], env);
  assert.equal(listed.code, 0, listed.output);
  assert.match(listed.output, new RegExp(`^CURRENT +NAME +URL\n- +${nameA.replace(/\./g, '\\.')} +${a.api}\n\\* +two +${b.api}\n$`));
  const json = JSON.parse((await berth(['servers', '--json'], env)).output);
  assert.deepEqual(json, { current: 'two', servers: [{ name: nameA, server: a.api, current: false }, { name: 'two', server: b.api, current: true }] });

  const use = await berth(['servers', 'use', nameA], env);
  assert.equal(use.code, 0, use.output);
  assert.deepEqual(await tokenNames([], env), ['admin', 'made-on-one']);

  // No output ever carries a token; the file holds both, under the new form.
  const saved = JSON.parse(await readFile(file, 'utf8'));
  assert.deepEqual(saved, { version: 2, current: a.api, servers: [{ name: nameA, server: a.api, token: a.token }, { name: 'two', server: b.api, token: b.token }] });
  for (const run of [loginA, loginB, listed, use]) for (const token of [a.token, b.token]) assert.ok(!run.output.includes(token));

  // A URL nothing was saved for gets no saved token; a name nothing was saved under is named in the refusal.
  const unsaved = await berth(['tokens', 'list', '--server', 'http://127.0.0.1:9'], env);
  assert.equal(unsaved.code, 1);
  assert.match(unsaved.output, /not logged in: no token is saved for http:\/\/127\.0\.0\.1:9 \[BERTH_E_NOT_LOGGED_IN\]/);
  const unknown = await berth(['tokens', 'list', '--server', 'staging'], env);
  assert.match(unknown.output, /not logged in: no saved server is named "staging" \[BERTH_E_NOT_LOGGED_IN\]\nhint: The saved servers are .+, two/);

  // Logging out of the current one leaves the only other one current.
  const logout = await berth(['logout'], env);
  assert.equal(logout.code, 0, logout.output);
  assert.match(logout.output, new RegExp(`^logged out of ${a.api} \\("${nameA.replace(/\./g, '\\.')}"\\); "two" is now the current server$`, 'm'));
  assert.deepEqual(await tokenNames([], env), ['admin', 'made-on-two']);
  const gone = await berth(['tokens', 'list', '--server', nameA], env);
  assert.equal(gone.code, 1);
  assert.match(gone.output, /BERTH_E_NOT_LOGGED_IN/);
  assert.equal((await berth(['logout', 'two'], env)).code, 0);
  assert.match((await berth(['logout'], env)).output, /not logged in to any server: nothing to forget/);
  assert.match((await berth(['tokens', 'list'], env)).output, /not logged in: no berth server is known \[BERTH_E_NOT_LOGGED_IN\]/);

  // The single-server file of before: used as it is, and carried over by the next login.
  const oldEnv = { ...env, XDG_CONFIG_HOME: join(root, 'old-config') };
  await mkdir(join(root, 'old-config', 'berth'), { recursive: true, mode: 0o700 });
  const oldFile = join(root, 'old-config', 'berth', 'credentials.json');
  await writeFile(oldFile, `${JSON.stringify({ server: a.api, token: a.token }, null, 2)}\n`, { mode: 0o600 });
  assert.deepEqual(await tokenNames([], oldEnv), ['admin', 'made-on-one']);
  assert.equal((await berth(['login', '--server', b.api, '--token', b.token], oldEnv)).code, 0);
  const migrated = JSON.parse(await readFile(oldFile, 'utf8'));
  assert.deepEqual(migrated.servers.map((s: { server: string }) => s.server), [a.api, b.api]);
  assert.equal(migrated.current, b.api);
  assert.deepEqual(await tokenNames(['--server', nameA], oldEnv), ['admin', 'made-on-one']);
});
