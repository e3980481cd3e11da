import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, EXAMPLES, eventually } from '../helpers/berth-process.ts';
import { startDaemon, viaEdge } from '../helpers/daemon.ts';

/** Runs one CLI command to completion with the given environment. */
async function berth(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const run = new BerthProcess(args, { env });
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 120_000);
  const { code } = await run.exited;
  clearTimeout(timer);
  return { code, output: run.output };
}

test('the real CLI drives a real daemon: login, create, deploy Node and Flask, config, rollback, scale, restart, destroy', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-cli-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const state = join(root, 'state');
  const restart = async () => {
    const started = await startDaemon(state);
    return { daemon: started.berth, edge: started.edge, api: started.api };
  };
  let { daemon, edge, api } = await restart();
  t.after(() => daemon.kill());
  const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();
  const env = { XDG_CONFIG_HOME: join(root, 'config') };

  const login = await berth(['login', '--server', api, '--token', token], env);
  assert.equal(login.code, 0, login.output);
  assert.equal((await stat(join(root, 'config', 'berth', 'credentials.json'))).mode & 0o777, 0o600);
  const wrong = await berth(['login', '--server', api, '--token', 'berth_wrong'], { XDG_CONFIG_HOME: join(root, 'other') });
  assert.notEqual(wrong.code, 0);

  assert.equal((await berth(['apps', 'create', 'shop'], env)).code, 0);
  const badName = await berth(['apps', 'create', 'bad;name'], env);
  assert.equal(badName.code, 1);
  assert.match(badName.output, /BERTH_E_NAME/);

  const app = join(root, 'shop');
  await cp(join(EXAMPLES, 'node-hello'), app, { recursive: true });
  const deployed = await berth(['deploy', app, '--app', 'shop'], env);
  assert.equal(deployed.code, 0, deployed.output);
  assert.match(deployed.output, /v1 is serving/);
  assert.match((await viaEdge(edge, 'shop.localhost')).body, /Hello from web\.1/);

  const set = await berth(['config', 'set', 'GREETING=hello=world', '--app', 'shop'], env);
  assert.equal(set.code, 0, set.output);
  const listed = await berth(['config', 'list', '--app', 'shop'], env);
  assert.doesNotMatch(listed.output, /hello=world/);
  const revealed = await berth(['config', 'list', '--app', 'shop', '--reveal'], env);
  assert.match(revealed.output, /hello=world/);

  const releases = await berth(['releases', '--app', 'shop', '--json'], env);
  assert.equal(JSON.parse(releases.output).releases.length, 2);
  const rollback = await berth(['rollback', 'v1', '--app', 'shop'], env);
  assert.equal(rollback.code, 0, rollback.output);
  // Kubernetes manifests need the Kubernetes runtime: refused on one machine, saying how.
  const manifests = await berth(['k8s', 'manifests', '--app', 'shop'], env);
  assert.equal(manifests.code, 1, manifests.output);
  assert.match(manifests.output, /BERTH_E_KUBE_UNSUPPORTED[\s\S]*--runtime kubernetes/);

  assert.equal((await berth(['scale', 'web=2', '--app', 'shop'], env)).code, 0);
  const ps = await berth(['ps', '--app', 'shop', '--json'], env);
  assert.equal(JSON.parse(ps.output).instances.length, 2);

  assert.equal((await berth(['apps', 'create', 'notes'], env)).code, 0);
  const flask = join(root, 'notes');
  await cp(join(EXAMPLES, 'flask-notes'), flask, { recursive: true });
  const flaskDeploy = await berth(['deploy', flask, '--app', 'notes'], env);
  assert.equal(flaskDeploy.code, 0, flaskDeploy.output);
  assert.equal((await viaEdge(edge, 'notes.localhost', '/health')).status, 200);

  // A broken deploy fails with the reason and leaves shop serving.
  const broken = join(root, 'broken');
  await mkdir(broken);
  await writeFile(join(broken, 'Procfile'), 'web: node -e "process.exit(2)"\n');
  const failed = await berth(['deploy', broken, '--app', 'shop'], env);
  assert.equal(failed.code, 1);
  assert.match(failed.output, /BERTH_E_RELEASE_FAILED/);
  assert.equal((await viaEdge(edge, 'shop.localhost')).status, 200);

  // The daemon restarts and brings both apps back.
  await daemon.stop('SIGTERM');
  ({ daemon, edge, api } = await restart());
  // The API moved to a new port: a URL nothing was saved for gets the token from BERTH_TOKEN (never the saved server's).
  const env2 = { ...env, BERTH_SERVER: api, BERTH_TOKEN: token };
  await eventually('shop is back', async () => (await viaEdge(edge, 'shop.localhost')).status === 200, 30_000);
  assert.equal((await viaEdge(edge, 'notes.localhost', '/health')).status, 200);

  const refused = await berth(['apps', 'destroy', 'notes'], env2);
  assert.notEqual(refused.code, 0);
  assert.equal((await berth(['apps', 'destroy', 'notes', '--confirm', 'notes'], env2)).code, 0);
  assert.equal((await viaEdge(edge, 'notes.localhost')).status, 404);
  const apps = await berth(['apps', 'list', '--json'], env2);
  assert.deepEqual(JSON.parse(apps.output).apps.map((a: { name: string }) => a.name), ['shop']);
});
