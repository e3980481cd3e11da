import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pktLine } from '../../src/git/index.ts';
import { commitFiles, git, gitClient, makeRepo, run } from './git-helpers.ts';
import { gitStack, TOKEN } from './stack.ts';

test('git push over smart HTTP deploys the pushed tree and streams the build back as remote: lines', async (t) => {
  const stack = await gitStack(t);
  const env = await gitClient(join(stack.root, 'home'), { token: TOKEN });
  const repo = join(stack.root, 'work');
  await makeRepo(repo, env, { 'Procfile': 'web: node server.js\n', 'server.js': 'v1\n' });
  const url = `${stack.base}/git/shop.git`;

  const first = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.equal(first.code, 0, first.output);
  const head = (await git(repo, env, ['rev-parse', 'HEAD'])).trim();
  assert.match(first.output, new RegExp(`remote: berth: deploying ${head.slice(0, 7)} to shop`));
  assert.match(first.output, /remote: building 2 files/);
  assert.match(first.output, /remote: berth: [0-9a-f]{7} is deployed as v1/);
  assert.deepEqual(stack.deployed.map((d) => [d.app, d.description, d.actor]), [['shop', `git push ${head.slice(0, 7)}`, 'ci']]);
  assert.equal(stack.deployed[0]!.files['server.js'], 'v1\n');
  assert.equal((await stat(join(stack.stateDir, 'git', 'shop.git'))).mode & 0o777, 0o700);

  await commitFiles(repo, env, { 'server.js': 'v2\n' }, 'second');
  const second = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.equal(second.code, 0, second.output);
  assert.equal(stack.deployed[1]!.files['server.js'], 'v2\n');

  // Fetching works too, and the repository holds what was deployed.
  const clone = join(stack.root, 'clone');
  const cloned = await run('git', ['clone', '-q', url, clone], { env });
  assert.equal(cloned.code, 0, cloned.output);
  assert.equal((await git(clone, env, ['rev-parse', 'HEAD'])).trim(), (await git(repo, env, ['rev-parse', 'HEAD'])).trim());

  // A push that changes nothing deploys nothing.
  assert.equal((await run('git', ['push', url, 'main'], { cwd: repo, env })).code, 0);
  assert.equal(stack.deployed.length, 2);
  // The token never shows up in the daemon's log.
  assert.ok(!stack.logged.join('\n').includes(TOKEN));
});

test('a push whose deploy fails is rejected with the reason, and the repository keeps the deployed commit', async (t) => {
  const stack = await gitStack(t);
  const env = await gitClient(join(stack.root, 'home'), { token: TOKEN });
  const repo = join(stack.root, 'work');
  await makeRepo(repo, env, { 'index.html': 'good\n' });
  const url = `${stack.base}/git/shop.git`;
  assert.equal((await run('git', ['push', url, 'main'], { cwd: repo, env })).code, 0);
  const good = (await git(repo, env, ['rev-parse', 'HEAD'])).trim();

  await commitFiles(repo, env, { 'FAIL': 'x\n' }, 'broken');
  const failed = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.notEqual(failed.code, 0);
  assert.match(failed.output, /remote: web\.1 exited with code 2/);
  assert.match(failed.output, /remote: berth: push refused: the new release did not become ready \[BERTH_E_RELEASE_FAILED\]/);
  assert.match(failed.output, /pre-receive hook declined/);
  assert.equal(stack.deployed.length, 1);
  const remote = await git(repo, env, ['ls-remote', url, 'refs/heads/main']);
  assert.equal(remote.split('\t')[0], good);
});

test('only the deploy branch may move: other branches, tags and deleting it are refused', async (t) => {
  const stack = await gitStack(t);
  const env = await gitClient(join(stack.root, 'home'), { token: TOKEN });
  const repo = join(stack.root, 'work');
  await makeRepo(repo, env, { 'index.html': 'hi\n' });
  const url = `${stack.base}/git/shop.git`;

  const feature = await run('git', ['push', url, 'main:feature'], { cwd: repo, env });
  assert.notEqual(feature.code, 0);
  assert.match(feature.output, /remote: berth: push refused: berth deploys only the branch "main"; refused: feature.*\[BERTH_E_PUSH_REFUSED\]/);
  await git(repo, env, ['tag', 'v1']);
  const tag = await run('git', ['push', url, 'main', 'v1'], { cwd: repo, env });
  assert.notEqual(tag.code, 0);
  assert.match(tag.output, /refused: refs\/tags\/v1/);
  assert.equal(stack.deployed.length, 0, 'a push that is refused in part deploys nothing');

  assert.equal((await run('git', ['push', url, 'main'], { cwd: repo, env })).code, 0);
  const deleted = await run('git', ['push', url, ':main'], { cwd: repo, env });
  assert.notEqual(deleted.code, 0);
  assert.equal((await git(repo, env, ['ls-remote', url])).includes('refs/heads/main'), true);
  assert.equal((await git(repo, env, ['ls-remote', url])).includes('feature'), false);

  // An app with another deploy branch takes pushes to that branch only.
  const blogMain = await run('git', ['push', `${stack.base}/git/blog.git`, 'main'], { cwd: repo, env });
  assert.notEqual(blogMain.code, 0);
  assert.match(blogMain.output, /only the branch "production"/);
  assert.equal((await run('git', ['push', `${stack.base}/git/blog.git`, 'main:production'], { cwd: repo, env })).code, 0);
  assert.equal(stack.deployed.at(-1)!.app, 'blog');
});

test('without a valid token git gets 401 with a Basic challenge, and the push fails', async (t) => {
  const stack = await gitStack(t);
  for (const token of ['', 'berth_wrong']) {
    const env = await gitClient(join(stack.root, `home-${token || 'none'}`), { token });
    const repo = join(stack.root, `work-${token || 'none'}`);
    await makeRepo(repo, env, { 'index.html': 'hi\n' });
    const pushed = await run('git', ['push', `${stack.base}/git/shop.git`, 'main'], { cwd: repo, env });
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.output, /Authentication failed|401/);
  }
  const res = await fetch(`${stack.base}/git/shop.git/info/refs?service=git-receive-pack`);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Basic realm="berth"');
  const wrong = await fetch(`${stack.base}/git/shop.git/info/refs?service=git-receive-pack`, { headers: { authorization: `Basic ${Buffer.from('x:nope').toString('base64')}` } });
  assert.equal(wrong.status, 401);
  // Any user name; the token is the password. A bearer token works too.
  const basic = await fetch(`${stack.base}/git/shop.git/info/refs?service=git-upload-pack`, { headers: { authorization: `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}` } });
  assert.equal(basic.status, 200);
  assert.equal(basic.headers.get('content-type'), 'application/x-git-upload-pack-advertisement');
  assert.match(Buffer.from(await basic.arrayBuffer()).toString('latin1'), /^001e# service=git-upload-pack\n0000/);
  const bearer = await fetch(`${stack.base}/git/shop.git/info/refs?service=git-receive-pack`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(bearer.status, 200);
  assert.equal(stack.deployed.length, 0);
});

test('bad repository names are 400, unknown apps 404, dumb HTTP and foreign bodies refused', async (t) => {
  const stack = await gitStack(t);
  const auth = { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` };
  const get = (path: string) => fetch(`${stack.base}${path}`, { headers: auth });
  for (const repo of ['..%2Fx.git', 'bad%3Bname.git', 'Shop.git', 'a%2Fb.git']) {
    const res = await get(`/git/${repo}/info/refs?service=git-receive-pack`);
    assert.equal(res.status, 400, repo);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, 'BERTH_E_GIT_REPO');
    assert.match(body.message, /is not a berth repository/);
  }
  const missing = await get('/git/nope.git/info/refs?service=git-upload-pack');
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'BERTH_E_APP_NOT_FOUND');
  const dumb = await get('/git/shop.git/info/refs');
  assert.equal(dumb.status, 400);
  assert.equal(((await dumb.json()) as { code: string }).code, 'BERTH_E_GIT_SERVICE');
  assert.equal((await get('/git/shop.git/info/refs?service=git-upload-archive')).status, 400);
  assert.equal((await get('/git/shop.git/HEAD')).status, 404);
  const foreign = await fetch(`${stack.base}/git/shop.git/git-receive-pack`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(foreign.status, 415);
  const encoded = await fetch(`${stack.base}/git/shop.git/git-upload-pack`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'br' }, body: 'x' });
  assert.equal(encoded.status, 415);
  // An unknown app through a real git client: a clear "not found".
  const env = await gitClient(join(stack.root, 'home'), { token: TOKEN });
  const cloned = await run('git', ['clone', `${stack.base}/git/nope.git`, join(stack.root, 'nope')], { env });
  assert.notEqual(cloned.code, 0);
  assert.match(cloned.output, /not found/);
});

test('gzip request bodies are read; a corrupt one cuts the answer instead of completing it', async (t) => {
  const stack = await gitStack(t);
  const env = await gitClient(join(stack.root, 'home'), { token: TOKEN });
  const repo = join(stack.root, 'work');
  await makeRepo(repo, env, { 'index.html': 'hi\n' });
  const url = `${stack.base}/git/shop.git`;
  assert.equal((await run('git', ['push', url, 'main'], { cwd: repo, env })).code, 0);
  const head = (await git(repo, env, ['rev-parse', 'HEAD'])).trim();
  const request = Buffer.concat([pktLine(`want ${head} ofs-delta\n`), Buffer.from('0000'), pktLine('done\n')]);
  const headers = {
    authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
    'content-type': 'application/x-git-upload-pack-request',
    'content-encoding': 'gzip',
  };
  const res = await fetch(`${url}/git-upload-pack`, { method: 'POST', headers, body: gzipSync(request) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-git-upload-pack-result');
  const answer = Buffer.from(await res.arrayBuffer()).toString('latin1');
  assert.match(answer, /^0008NAK\nPACK/);

  await assert.rejects(async () => {
    const corrupt = await fetch(`${url}/git-upload-pack`, { method: 'POST', headers, body: gzipSync(request).subarray(0, 12) });
    await corrupt.arrayBuffer();
  });
  assert.match(stack.logged.join('\n'), /git upload-pack for shop: the request body ended badly/);
});
