import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, eventually } from '../helpers/berth-process.ts';
import { startDaemon, viaEdge } from '../helpers/daemon.ts';
import { commitFiles, git, gitClient, run } from '../git/git-helpers.ts';

test('git push over HTTP to a real daemon: the Flask example deploys, the next push changes what it serves, refusals change nothing', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-push-http-'));
  const daemon = await startDaemon(join(root, 'state'));
  t.after(() => daemon.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${daemon.api}${path}`, { method, headers: { authorization: `Bearer ${daemon.token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  assert.equal((await api('POST', '/apps', { name: 'notes' })).status, 201);

  // The token reaches git through GIT_ASKPASS (an environment variable), never argv or the URL.
  const env = await gitClient(join(root, 'home'), { token: daemon.token });
  const repo = join(root, 'notes');
  await cp(join(EXAMPLES, 'flask-notes'), repo, { recursive: true });
  await git(repo, env, ['init', '-q', '-b', 'main']);
  await commitFiles(repo, env, {}, 'notes');
  const url = `${daemon.api}/git/notes.git`;

  const first = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.equal(first.code, 0, first.output);
  assert.match(first.output, /remote: berth: deploying [0-9a-f]{7} to notes/);
  assert.match(first.output, /remote: python app: web/);
  assert.match(first.output, new RegExp(`remote: v1 is serving at http://notes\\.localhost:${new URL(daemon.edge).port}\\s`));
  assert.match((await viaEdge(daemon.edge, 'notes.localhost', '/')).body, /<h1>Notes<\/h1>/);
  assert.equal((await viaEdge(daemon.edge, 'notes.localhost', '/health')).status, 200);

  const app = await readFile(join(repo, 'app.py'), 'utf8');
  await commitFiles(repo, env, { 'app.py': app.replace('<h1>Notes</h1>', '<h1>Notes, pushed again</h1>') }, 'retitle');
  const second = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.equal(second.code, 0, second.output);
  assert.match((await viaEdge(daemon.edge, 'notes.localhost', '/')).body, /<h1>Notes, pushed again<\/h1>/);
  const releases = (await (await api('GET', '/apps/notes/releases')).json()) as { releases: Array<{ description: string }> };
  const head = (await git(repo, env, ['rev-parse', 'HEAD'])).trim();
  assert.equal(releases.releases[0]!.description, `git push ${head.slice(0, 7)}`);

  // Refused: no token, a bad repository name, an unknown app, another branch.
  const anonymous = await gitClient(join(root, 'anonymous'));
  const noToken = await run('git', ['push', url, 'main'], { cwd: repo, env: anonymous });
  assert.notEqual(noToken.code, 0);
  assert.match(noToken.output, /Authentication failed/);
  const badName = await fetch(`${daemon.api}/git/bad%3Bname.git/info/refs?service=git-receive-pack`, { headers: { authorization: `Basic ${Buffer.from(`git:${daemon.token}`).toString('base64')}` } });
  assert.equal(badName.status, 400);
  assert.equal(((await badName.json()) as { code: string }).code, 'BERTH_E_GIT_REPO');
  const unknown = await run('git', ['push', `${daemon.api}/git/nope.git`, 'main'], { cwd: repo, env });
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.output, /not found/);
  const branch = await run('git', ['push', url, 'main:feature'], { cwd: repo, env });
  assert.notEqual(branch.code, 0);
  assert.match(branch.output, /remote: berth: push refused: berth deploys only the branch "main"/);

  // A push whose release cannot start is rejected with the reason; the app keeps serving.
  await writeFile(join(repo, 'Procfile'), 'web: python3 -c "import sys; sys.exit(3)"\n');
  await commitFiles(repo, env, {}, 'broken');
  const broken = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.notEqual(broken.code, 0);
  assert.match(broken.output, /remote: .*\[BERTH_E_RELEASE_FAILED\]/);
  assert.match(broken.output, /pre-receive hook declined/);
  assert.match((await viaEdge(daemon.edge, 'notes.localhost', '/')).body, /<h1>Notes, pushed again<\/h1>/);
  const after = (await (await api('GET', '/apps/notes/releases')).json()) as { releases: Array<{ status: string; current: boolean }> };
  assert.equal(after.releases.find((r) => r.current)!.status, 'succeeded');

  // Destroying the app removes its repository.
  assert.equal((await api('DELETE', '/apps/notes?confirm=notes')).status, 200);
  await eventually('the repository is gone', async () => {
    try {
      await readFile(join(root, 'state', 'git', 'notes.git', 'HEAD'));
      return false;
    } catch {
      return true;
    }
  });
  assert.ok(!daemon.berth.output.includes(daemon.token), 'the token never appears in the daemon output');
});
