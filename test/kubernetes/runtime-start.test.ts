// berth server --runtime kubernetes refuses to start, saying why, when its
// flags are incomplete or the cluster cannot be reached, and leaves its
// state folder free for the next start.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBerth } from '../helpers/berth-process.ts';

test('--runtime kubernetes: a flag missing is refused before the state folder is touched; an unreachable cluster stops the start', { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-kube-start-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const state = join(root, 'state');
  const server = ['server', '--state', state, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', '--sandbox', 'off'];

  const noRegistry = await runBerth([...server, '--runtime', 'kubernetes', '--kubeconfig', join(root, 'kubeconfig')]);
  assert.equal(noRegistry.code, 1, noRegistry.output);
  assert.match(noRegistry.output, /needs --registry HOST\[:PORT\]\/PREFIX/);
  assert.equal(existsSync(state), false, 'nothing was made');
  const stray = await runBerth([...server, '--registry', '127.0.0.1:5000/apps']);
  assert.match(stray.output, /--registry only means something with --runtime kubernetes/);

  // A cluster nobody listens for.
  await writeFile(join(root, 'kubeconfig'), [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    'clusters: [{name: k, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
    'users: [{name: u, user: {token: abc}}]',
    'contexts: [{name: c, context: {cluster: k, user: u}}]', '',
  ].join('\n'), { mode: 0o600 });
  const unreachable = await runBerth([...server, '--runtime', 'kubernetes', '--kubeconfig', join(root, 'kubeconfig'), '--registry', '127.0.0.1:5000/apps']);
  assert.notEqual(unreachable.code, 0, unreachable.output);
  assert.match(unreachable.output, /BERTH_E_KUBE_UNREACHABLE/);
  assert.doesNotMatch(unreachable.output, /abc/, 'the token is never printed');
  // The lock went with the failed start: a plain start works on the same folder.
  const again = await runBerth([...server, '--runtime', 'kubernetes', '--kubeconfig', join(root, 'kubeconfig'), '--registry', '127.0.0.1:5000/apps']);
  assert.match(again.output, /BERTH_E_KUBE_UNREACHABLE/, 'refused for the cluster again, not for a lock left behind');
});
