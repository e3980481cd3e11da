import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appUserName } from '../../src/platform/index.ts';
import { apiCall, deployDir, startDaemon, testUserPrefix, type Daemon } from '../helpers/daemon.ts';
import { alive, eventually } from '../helpers/berth-process.ts';
import { deployHostile, edgeRequest, hostileRun, hostileSpawn, whoami, writeHostileApp } from './hostile-app.ts';

// These attacks come from an app that can write its own release and the
// host's /tmp: an uncontained app (a daemon without root, or --sandbox off).
// A sandboxed app cannot even stage them (its release is read-only, /tmp
// its own: test/security/sandbox-*.test.ts); what is tested here is that
// berth's own code holds regardless, so the daemon runs with --sandbox off.
const UNCONTAINED = ['--sandbox', 'off'];

// berth server runs as root and works in every app's folder: it creates
// build folders, unpacks uploads, hands trees to the app's user, keeps a
// build cache, prunes old builds and reads the app's berth.toml. The app
// owns files in those folders and can change them at any moment. Here the
// app points every name it can at folders and files of root's (a folder of
// the test's own, never /etc) and then has berth deploy, restart and prune:
// what root owns must come out unchanged, and what berth reads must never
// be a file of the host.

const HOST = 'hostile.localhost';
const APP = 'hostile';

if (process.getuid?.() !== 0) throw new Error('these attacks need berth server as root (apps with their own users): run the tests as root');

async function setup(t: TestContext, extra: Record<string, string> = {}): Promise<{ root: string; state: string; source: string; d: Daemon; name: string }> {
  const root = await mkdtemp(join(tmpdir(), 'berth-privfiles-'));
  const state = join(root, 'state');
  const d = await startDaemon(state, 1, UNCONTAINED);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const source = join(root, 'source');
  await deployHostile(d, APP, source, extra);
  return { root, state, source, d, name: join(state, 'apps', APP) };
}

/** A folder of root's with a file in it: what the app aims its links at. */
async function rootFolder(root: string, name: string, files: Record<string, string> = { 'precious.txt': 'root owns this\n' }): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  for (const [file, content] of Object.entries(files)) {
    await writeFile(join(dir, file), content, { mode: 0o644 });
    await chmod(join(dir, file), 0o644);
  }
  return dir;
}

/** Every entry under `dir` (itself included) with owner, mode and, for files, content. */
async function snapshot(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (path: string, shown: string): Promise<void> => {
    const facts = await lstat(path);
    const kind = facts.isSymbolicLink() ? 'link' : facts.isDirectory() ? 'dir' : 'file';
    lines.push(`${shown} ${kind} ${facts.uid}:${facts.gid} ${(facts.mode & 0o7777).toString(8)}${kind === 'file' ? ` ${JSON.stringify(await readFile(path, 'utf8'))}` : ''}`);
    if (kind === 'dir') for (const entry of (await readdir(path)).sort()) await walk(join(path, entry), `${shown}/${entry}`);
  };
  await walk(dir, '.');
  return lines;
}

/** Makes the builds look recorded by a berth from before manifests (schema 4 had no such columns: nothing to forget). */
function forgetManifests(state: string): void {
  const db = new DatabaseSync(join(state, 'berth.db'));
  try {
    const columns = db.prepare('SELECT name FROM pragma_table_info(?)').all('builds').map((row) => row.name);
    if (columns.includes('plan_json')) db.exec('UPDATE builds SET plan_json = NULL, app_config_json = NULL');
  } finally {
    db.close();
  }
}

/** Runs a shell line inside the app, as its user (the attacker's own shell). */
function attack(d: Daemon, line: string, cwd?: string) {
  return hostileRun(d, HOST, ['sh', '-c', line], cwd === undefined ? {} : { cwd });
}

async function redeploy(d: Daemon, source: string): Promise<{ lines: string[]; last: any }> {
  return deployDir(d, APP, source);
}

test('cache, builds and home replaced with links to a root-owned folder: deploys and restarts never follow them', { timeout: 240_000 }, async (t) => {
  const { root, state, source, d, name } = await setup(t);
  const targets = { cache: await rootFolder(root, 'target-cache'), builds: await rootFolder(root, 'target-builds'), home: await rootFolder(root, 'target-home') };
  const before = Object.fromEntries(await Promise.all(Object.entries(targets).map(async ([k, v]) => [k, await snapshot(v)] as const)));
  // The app tries to put each name aside and a link in its place (in the old layout it could: the folder was its own).
  for (const [entry, target] of Object.entries(targets)) {
    // -T: a link named like the folder, never one made inside the folder if it is still there.
    const tried = await attack(d, `cd '${name}' && mv ${entry} ${entry}.old; ln -sT '${target}' ${entry}`);
    t.diagnostic(`${entry} → ${target}: exit ${tried.code} ${tried.stderr.trim()}`);
  }
  const second = await redeploy(d, source);
  t.diagnostic(`deploy after the links: ${JSON.stringify(second.last)}`);
  await d.berth.stop();
  const again = await startDaemon(state, 1, UNCONTAINED);
  t.after(() => again.berth.kill());
  const third = await redeploy(again, source);
  t.diagnostic(`deploy after a restart: ${JSON.stringify(third.last)}`);
  for (const [entry, target] of Object.entries(targets)) assert.deepEqual(await snapshot(target), before[entry], `${entry}: the folder the app pointed at is unchanged`);
  for (const entry of ['cache', 'builds', 'home']) assert.ok((await lstat(join(name, entry))).isDirectory(), `${entry} is a real folder`);
  assert.ok(third.last.release, 'and the app deploys as before');
});

test('a build\'s subfolder swapped for a link while the build is given to the app: nothing outside the build changes owner', { timeout: 240_000 }, async (t) => {
  // Many files, so that handing the tree over takes a while; the target holds files of the same names.
  const files: Record<string, string> = {};
  for (let i = 0; i < 3000; i++) files[`big/f${String(i).padStart(4, '0')}`] = 'x';
  const { root, source, d, name } = await setup(t, files);
  const target = await rootFolder(root, 'target-chown', { f2999: 'root\n', f1500: 'root\n', f0001: 'root\n' });
  const before = await snapshot(target);
  const builds = join(name, 'builds');
  // From inside the app: the moment a new build's big/ can be entered, swap it for a link.
  const loop = `end=$(($(date +%s)+90)); while [ $(date +%s) -lt $end ]; do hit=; for d in '${builds}'/*/big; do [ -d "$d" ] && [ ! -L "$d" ] && [ ! -e "$d.x" ] && mv "$d" "$d.x" 2>/dev/null && ln -s '${target}' "$d" && hit=1; done; [ -n "$hit" ] || sleep 0.002; done`;
  const attacker = await hostileSpawn(d, HOST, ['sh', '-c', loop]);
  t.after(() => {
    try {
      process.kill(-attacker, 'SIGKILL');
    } catch {
      // Gone.
    }
  });
  const deployed = await redeploy(d, source);
  t.diagnostic(`deploy under the attack: ${JSON.stringify(deployed.last)}`);
  process.kill(-attacker, 'SIGKILL');
  await eventually('the attacker is gone', () => !alive(attacker));
  assert.deepEqual(await snapshot(target), before, 'the files the link led to keep their owner and mode');
});

test('the build folder of an old release turned into links before it is pruned: pruning removes the links, not what they point to', { timeout: 300_000 }, async (t) => {
  const { root, source, d, name } = await setup(t);
  const target = await rootFolder(root, 'target-prune');
  await mkdir(join(target, 'static'));
  await writeFile(join(target, 'static', 'hello.txt'), 'root\'s\n');
  const before = await snapshot(target);
  const oldBuild = (await whoami(d, HOST)).cwd;
  assert.ok((await redeploy(d, source)).last.release, 'v2 deploys');
  // The old release's folder is still the app's: it fills it with links to root's folder.
  const planted = await attack(d, `cd '${oldBuild}' && rm -rf static && ln -s '${target}' static && ln -s '${target}' link && ln -sf '${join(target, 'precious.txt')}' server.mjs && mkdir -p deep/er && ln -s '${target}' deep/er/link; cd .. && mv '${oldBuild}' '${oldBuild}.x' 2>/dev/null; ln -s '${target}' '${oldBuild}' 2>/dev/null; true`);
  assert.equal(planted.code, 0, planted.stderr);
  // Ten more releases push v1 (the only release of that build) out of the kept ones.
  for (let i = 0; i < 10; i++) {
    const changed = await apiCall(d, 'PATCH', `/apps/${APP}/config`, { set: { ROUND: String(i) } });
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
  }
  await eventually('the old build is pruned', async () => !(await readdir(join(name, 'builds'))).includes(oldBuild.split('/').at(-1)!), 30_000);
  assert.deepEqual(await snapshot(target), before, 'root\'s folder and its files are all still there, unchanged');
});

test('Procfile, package.json, berth.toml and app.json turned into links to the admin token: the token never appears in an answer, a log or the daemon\'s output', { timeout: 240_000 }, async (t) => {
  const { state, d } = await setup(t, { 'package.json': '{"name": "hostile", "scripts": {"start": "node server.mjs"}}' });
  const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();
  const answers: string[] = [];
  const record = async (what: string, call: Promise<{ status: number; json: unknown }>) => {
    const answer = await call;
    answers.push(`${what}: ${answer.status} ${JSON.stringify(answer.json)}`);
    return answer;
  };
  let daemon = d;
  for (const file of ['Procfile', 'package.json', 'berth.toml', 'app.json']) {
    const planted = await attack(daemon, `rm -f ${file} && ln -s '${join(state, 'admin-token')}' ${file} && echo planted`);
    assert.match(planted.stdout, /planted/, `the app may change its own build folder: ${planted.stderr}`);
    await record(`restart after ${file}`, apiCall(daemon, 'POST', `/apps/${APP}/restart`));
    await record(`config after ${file}`, apiCall(daemon, 'PATCH', `/apps/${APP}/config`, { set: { AFTER: file } }));
    await record(`scale after ${file}`, apiCall(daemon, 'PUT', `/apps/${APP}/formation`, { web: 1 }));
    await daemon.berth.stop();
    answers.push(daemon.berth.output);
    daemon = await startDaemon(state, 1, UNCONTAINED);
    const started = daemon;
    t.after(() => started.berth.kill());
    answers.push(started.berth.output);
    for (const answer of answers) assert.ok(!answer.includes(token), `the token leaked after ${file} was planted:\n${answer.slice(0, 2000)}`);
  }
  await record('logs', apiCall(daemon, 'GET', `/apps/${APP}/logs?lines=2000`));
  await record('app', apiCall(daemon, 'GET', `/apps/${APP}`));
  answers.push(daemon.berth.output);
  const grep = spawnSync('grep', ['-rl', '--', token, join(state, 'logs')], { encoding: 'utf8' });
  assert.equal(grep.status, 1, `no log file holds the token: ${grep.stdout}${grep.stderr}`);
  for (const answer of answers) assert.ok(!answer.includes(token), `the token leaked:\n${answer.slice(0, 2000)}`);
  assert.ok(answers.some((a) => a.startsWith('restart after app.json: 200')), `restarts still work: ${answers.filter((a) => a.startsWith('restart')).join('\n')}`);
  await eventually(`${APP} serves after the restarts, as deployed`, async () => (await whoami(daemon, HOST)).uid > 0);
});

test('berth.toml and app.json edited after the deploy change neither the running release\'s limits, static mounts nor cron jobs, after a restart either', { timeout: 240_000 }, async (t) => {
  const { state, d } = await setup(t);
  const bigBody = JSON.stringify({ argv: ['cat'], input: 'x'.repeat(2000) });
  const post = (daemon: Daemon) => edgeRequest(daemon.edge, HOST, 'POST', '/run', bigBody);
  assert.equal((await post(d)).status, 200, 'a 2 kB body goes through');
  assert.equal(JSON.parse((await post(d)).body).stdout.length, 2000);
  // The app answers every path itself; a mount of the build folder would serve the source instead.
  const served = async (daemon: Daemon) => (await edgeRequest(daemon.edge, HOST, 'GET', '/leak/server.mjs')).body;
  assert.equal(await served(d), 'hostile app');
  const edited = await attack(d, `printf '[static]\\n"/static" = "static"\\n"/leak" = "."\\n[limits]\\nmax_body = 100\\n' > berth.toml && cat berth.toml`);
  assert.match(edited.stdout, /max_body = 100/);
  // A job the app adds to its app.json afterwards would run as the app every second: the recorded build has none.
  const added = await attack(d, `printf '{"cron": [{"command": "touch added-by-app", "schedule": "* * * * * *"}], "scripts": {"predeploy": "touch x"}}' > app.json && cat app.json`);
  assert.match(added.stdout, /added-by-app/);
  assert.equal((await apiCall(d, 'POST', `/apps/${APP}/restart`)).status, 200);
  await d.berth.stop();
  const again = await startDaemon(state, 1, UNCONTAINED);
  t.after(() => again.berth.kill());
  await eventually('the app serves after the restart', async () => (await whoami(again, HOST)).uid > 0);
  assert.equal((await post(again)).status, 200, 'the body limit is still the one that was deployed');
  assert.equal(await served(again), 'hostile app', 'no mount was added');
  assert.equal((await edgeRequest(again.edge, HOST, 'GET', '/static/hello.txt')).status, 200, 'the deployed mount serves');
  assert.deepEqual((await apiCall(again, 'GET', `/apps/${APP}/cron`)).json.jobs, [], 'no cron job came from the edited app.json');
});

test('a state folder of the old layout (the app\'s folder its own, with links planted) is migrated without following them, and legacy builds are read confined', { timeout: 240_000 }, async (t) => {
  const { root, state, source, d, name } = await setup(t);
  const me = await whoami(d, HOST);
  const user = appUserName(testUserPrefix(state), APP);
  await d.berth.stop();
  // What an older berth left: STATE/apps/NAME the app's (0700, its HOME), builds and cache the app's, no recorded manifests.
  execFileSync('sh', ['-c', `cd '${name}' && if [ -d home ]; then for f in home/* home/.[!.]*; do [ -e "$f" ] && mv "$f" .; done; rmdir home; fi; true`]);
  execFileSync('chown', [`${me.uid}:${me.gid}`, name, join(name, 'builds')]);
  execFileSync('chmod', ['0700', name, join(name, 'builds')]);
  execFileSync('usermod', ['--home', name, user]);
  forgetManifests(state);
  // What the app did to its folder meanwhile: links where berth's folders are, a file of its own in HOME.
  const targets = { cache: await rootFolder(root, 'target-cache'), home: await rootFolder(root, 'target-home'), buildsLink: await rootFolder(root, 'target-builds') };
  const before = { cache: await snapshot(targets.cache), home: await snapshot(targets.home), buildsLink: await snapshot(targets.buildsLink) };
  execFileSync('setpriv', ['--reuid', String(me.uid), '--regid', String(me.gid), '--clear-groups', 'sh', '-c', `cd '${name}' && mv cache cache.old && ln -s '${targets.cache}' cache && ln -s '${targets.home}' home && echo mine > .my-dotfile && ln -s '${targets.buildsLink}' builds/not-a-build`]);
  const again = await startDaemon(state, 1, UNCONTAINED);
  t.after(() => again.berth.kill());
  await eventually('the app serves again', async () => (await whoami(again, HOST)).uid === me.uid);
  assert.ok((await redeploy(again, source)).last.release, 'and deploys');
  for (const key of ['cache', 'home', 'buildsLink'] as const) assert.deepEqual(await snapshot(targets[key]), before[key], `${key}: root's folder is unchanged`);
  const facts = async (path: string) => {
    const f = await lstat(path);
    return [f.isDirectory() && !f.isSymbolicLink(), f.uid, f.mode & 0o777];
  };
  assert.deepEqual(await facts(name), [true, 0, 0o750], "the app's folder is root's now");
  assert.deepEqual(await facts(join(name, 'builds')), [true, 0, 0o711]);
  assert.deepEqual(await facts(join(name, 'home')), [true, me.uid, 0o700]);
  assert.deepEqual(await facts(join(name, 'cache')), [true, me.uid, 0o700]);
  assert.equal(await readFile(join(name, 'home', '.my-dotfile'), 'utf8'), 'mine\n', "the app's old HOME is its home now");
  assert.equal((await whoami(again, HOST)).home, join(name, 'home'));
  assert.equal(execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5], join(name, 'home'));
});

test('a build recorded before manifests, whose Procfile now links to the admin token, is refused at start without reading it', { timeout: 180_000 }, async (t) => {
  const { state, d } = await setup(t);
  const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();
  const planted = await attack(d, `rm -f Procfile && ln -s '${join(state, 'admin-token')}' Procfile && echo planted`);
  assert.match(planted.stdout, /planted/);
  await d.berth.stop();
  forgetManifests(state);
  const again = await startDaemon(state, 1, UNCONTAINED);
  t.after(() => again.berth.kill());
  await again.berth.waitFor(/hostile: cannot start v1: Procfile is a link leading outside the app folder; berth did not read it/);
  const restart = await apiCall(again, 'POST', `/apps/${APP}/restart`);
  assert.equal(restart.json.code, 'BERTH_E_APP_FILE');
  assert.ok(!JSON.stringify(restart.json).includes(token) && !again.berth.output.includes(token) && !d.berth.output.includes(token), 'the token was never read');
});
