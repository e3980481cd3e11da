// The attack: a token (any token is an admin) revokes the admin's token and
// then itself, so after a restart nobody can call the API again. berth must
// refuse to revoke the last admin token, whatever the order and however many
// revocations race; and when every admin token is gone anyway (someone edited
// the database), `berth server reset-admin-token` on the host brings one back,
// with the daemon running or stopped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, REPO } from '../helpers/berth-process.ts';
import { apiCall, startDaemon, type Daemon } from '../helpers/daemon.ts';

/** `berth ARGS` to completion, stdout and stderr apart. */
function berth(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What an intruder with the database file (not the API) could do: revoke every token. */
function revokeEveryTokenInTheDatabase(stateDir: string): void {
  const db = new DatabaseSync(join(stateDir, 'berth.db'), { timeout: 5_000 });
  try {
    db.prepare('UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL').run(new Date().toISOString());
  } finally {
    db.close();
  }
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

test('no token can lock everyone out; reset-admin-token gets back in with the daemon running and stopped', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'berth-lockout-'));
  const stateDir = join(parent, 'state');
  let daemon: Daemon | null = null;
  t.after(async () => {
    await daemon?.berth.kill();
    await rm(parent, { recursive: true, force: true });
  });
  daemon = await startDaemon(stateDir);
  const admin = daemon.token;

  // A second token (every token is an admin) revokes the admin's, then tries itself.
  const second = await apiCall(daemon, 'POST', '/tokens', { name: 'second' });
  assert.equal(second.status, 201);
  const secondToken: string = second.json.token;
  assert.equal((await apiCall(daemon, 'DELETE', '/tokens/admin', undefined, secondToken)).status, 200);
  const self = await apiCall(daemon, 'DELETE', '/tokens/second', undefined, secondToken);
  assert.equal(self.status, 409, JSON.stringify(self.json));
  assert.equal(self.json.code, 'BERTH_E_LAST_ADMIN_TOKEN');
  assert.match(self.json.hint, /reset-admin-token/);
  const audit = new DatabaseSync(join(stateDir, 'berth.db'), { readOnly: true });
  const refusedRow = audit.prepare("SELECT actor, result FROM audit WHERE action = 'tokens.revoke' AND target = 'second'").get();
  audit.close();
  assert.deepEqual({ ...refusedRow }, { actor: 'second', result: 'error' }, 'the attempt is audited');

  // The last two tokens each revoke themselves at once: exactly one passes.
  const third = (await apiCall(daemon, 'POST', '/tokens', { name: 'third' }, secondToken)).json.token as string;
  const raced = await Promise.all([
    apiCall(daemon, 'DELETE', '/tokens/second', undefined, secondToken),
    apiCall(daemon, 'DELETE', '/tokens/third', undefined, third),
  ]);
  assert.deepEqual(raced.map((r) => r.status).sort(), [200, 409], JSON.stringify(raced.map((r) => r.json)));
  const survivor = raced[0]!.status === 200 ? third : secondToken;

  // After a restart the remaining admin token still works; the revoked ones do not.
  await daemon.berth.stop();
  daemon = await startDaemon(stateDir);
  assert.equal((await apiCall(daemon, 'GET', '/apps', undefined, survivor)).status, 200);
  assert.equal((await apiCall(daemon, 'GET', '/apps', undefined, admin)).status, 401);
  assert.equal(daemon.token, admin, 'the admin-token file was not rewritten by the restart');

  // Every admin token gone behind the API's back, daemon running: reset-admin-token restores access at once.
  const stateMode = await mode(stateDir);
  revokeEveryTokenInTheDatabase(stateDir);
  assert.equal((await apiCall(daemon, 'GET', '/apps', undefined, survivor)).status, 401);
  const running = await berth(['server', 'reset-admin-token', '--state', stateDir]);
  assert.equal(running.code, 0, running.stderr);
  const fresh = (await readFile(join(stateDir, 'admin-token'), 'utf8')).trim();
  assert.match(fresh, /^berth_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(fresh, admin);
  assert.equal(await mode(join(stateDir, 'admin-token')), 0o600);
  assert.equal(running.stdout, '', 'nothing on stdout without --print-token');
  assert.ok(!running.stderr.includes(fresh), 'the token is not printed');
  assert.match(running.stderr, new RegExp(`${join(stateDir, 'admin-token').replaceAll('/', '\\/')}`));
  assert.equal((await apiCall(daemon, 'GET', '/apps', undefined, fresh)).status, 200, 'the running daemon accepts it at once');
  assert.equal(await mode(stateDir), stateMode, "the state folder's mode is as the daemon set it");
  assert.ok(!daemon.berth.output.includes(fresh), 'the token is not in the daemon log');

  // And with the daemon stopped; --print-token prints the token alone on stdout.
  await daemon.berth.stop();
  daemon = null;
  revokeEveryTokenInTheDatabase(stateDir);
  const stopped = await berth(['server', 'reset-admin-token', '--state', stateDir, '--print-token']);
  assert.equal(stopped.code, 0, stopped.stderr);
  const printed = stopped.stdout.trim();
  assert.equal(stopped.stdout, `${printed}\n`);
  assert.equal(printed, (await readFile(join(stateDir, 'admin-token'), 'utf8')).trim());
  assert.ok(!stopped.stderr.includes(printed));
  daemon = await startDaemon(stateDir);
  assert.equal(daemon.token, printed);
  const list = await apiCall(daemon, 'GET', '/tokens', undefined, printed);
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.json.tokens.filter((x: { revokedAt: string | null }) => x.revokedAt === null).map((x: { name: string }) => x.name),
    ['admin-3'],
  );
});

test('reset-admin-token refuses a folder that holds no berth state, creating nothing', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'berth-lockout-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  const result = await berth(['server', 'reset-admin-token', '--state', join(parent, 'nothing')]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /BERTH_E_STATE/);
  assert.equal(result.stdout, '');
  await assert.rejects(stat(join(parent, 'nothing')), 'no folder was made');
});
