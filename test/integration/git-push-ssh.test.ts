import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { BerthProcess } from '../helpers/berth-process.ts';
import { startDaemon, viaEdge } from '../helpers/daemon.ts';
import { commitFiles, gitClient, makeRepo, run, sshCommand, sshKeygen } from '../git/git-helpers.ts';

// A Node app with a real npm dependency (ms, tiny, no dependencies of its own): the daemon runs npm ci.
const PACKAGE_JSON = `${JSON.stringify({ name: 'greeter', version: '1.0.0', private: true, scripts: { start: 'node server.js' }, dependencies: { ms: '2.1.3' } }, null, 2)}\n`;
const PACKAGE_LOCK = `${JSON.stringify(
  {
    name: 'greeter',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'greeter', version: '1.0.0', dependencies: { ms: '2.1.3' } },
      'node_modules/ms': { version: '2.1.3', integrity: 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==', license: 'MIT' },
    },
  },
  null,
  2,
)}\n`;
const server = (greeting: string) =>
  `const http = require('node:http');\nconst ms = require('ms');\nhttp.createServer((req, res) => res.end(${JSON.stringify(greeting)} + ' in ' + ms(90000) + '\\n')).listen(Number(process.env.PORT));\n`;

/** One CLI command against the daemon; the token travels in the environment. */
async function berth(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const cli = new BerthProcess(args, { env });
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), 60_000);
  const { code } = await cli.exited;
  clearTimeout(timer);
  return { code, output: cli.output };
}

function refusedBy(what: (cb: (err: Error | null | undefined) => void) => void): Promise<Error | null | undefined> {
  return new Promise((resolve) => what((err) => resolve(err)));
}

test('git push over SSH to a real daemon: keys added with the CLI, a Node app with an npm dependency deploys and changes with the next push, a failing build is rejected, SSH refusals', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-push-ssh-'));
  // One hook, in order (t.after hooks run in the order they were added): the
  // SSH client goes, then the daemon stops its apps, then its folder goes.
  let client: ssh2.Client | undefined;
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  t.after(async () => {
    client?.end();
    await daemon?.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  daemon = await startDaemon(join(root, 'state'), 1, ['--ssh', '127.0.0.1:0']);
  const sshPort = Number((await daemon.berth.waitFor(/ssh listening on 127\.0\.0\.1:(\d+)/))[1]);
  assert.match(daemon.berth.output, /SSH host key .*host_ed25519_key: SHA256:[A-Za-z0-9+/]{43} \(ED25519\)/);
  const cliEnv = { BERTH_SERVER: daemon.api, BERTH_TOKEN: daemon.token, XDG_CONFIG_HOME: join(root, 'config') };

  const key = await sshKeygen(join(root, 'keys', 'id_ed25519'), 'alice@Laptop');
  const added = await berth(['keys', 'add', `${key}.pub`], cliEnv);
  assert.equal(added.code, 0, added.output);
  assert.match(added.output, /added the key alice-laptop \(ssh-ed25519 SHA256:/);
  const privateRefused = await berth(['keys', 'add', key, '--name', 'oops'], cliEnv);
  assert.equal(privateRefused.code, 1);
  assert.match(privateRefused.output, /private key.*\[BERTH_E_SSH_KEY\]/);
  assert.ok(!privateRefused.output.includes((await readFile(key, 'utf8')).split('\n')[1]!), 'the private key is never printed');
  const listed = await berth(['keys', 'list', '--json'], cliEnv);
  assert.equal(listed.code, 0, listed.output);
  assert.deepEqual((JSON.parse(listed.output) as { keys: Array<{ name: string }> }).keys.map((k) => k.name), ['alice-laptop']);
  assert.equal((await berth(['apps', 'create', 'greeter'], cliEnv)).code, 0);

  const env = await gitClient(join(root, 'home'), { sshKey: key, sshPort });
  const repo = join(root, 'greeter');
  await makeRepo(repo, env, { 'package.json': PACKAGE_JSON, 'package-lock.json': PACKAGE_LOCK, 'server.js': server('hello'), '.gitignore': 'node_modules/\n' });
  const url = `ssh://git@127.0.0.1:${sshPort}/greeter.git`;
  const first = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.equal(first.code, 0, first.output);
  assert.match(first.output, /remote: running npm ci/);
  assert.match(first.output, /remote: v1 is serving at http:\/\/greeter\.localhost/);
  assert.equal((await viaEdge(daemon.edge, 'greeter.localhost')).body, 'hello in 2m\n');

  await commitFiles(repo, env, { 'server.js': server('hello again') }, 'again');
  const second = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.equal(second.code, 0, second.output);
  assert.equal((await viaEdge(daemon.edge, 'greeter.localhost')).body, 'hello again in 2m\n');

  // A build that fails (npm ci cannot install a package that does not exist) rejects the push; v2 keeps serving.
  const badPackage = PACKAGE_JSON.replace('"ms": "2.1.3"', '"ms": "2.1.3",\n    "left-pad": "1.3.0"');
  await commitFiles(repo, env, { 'package.json': badPackage }, 'lockfile out of date');
  const failed = await run('git', ['push', url, 'main'], { cwd: repo, env });
  assert.notEqual(failed.code, 0);
  assert.match(failed.output, /remote: berth: push refused: .*\[BERTH_E_INSTALL\]/);
  assert.match(failed.output, /pre-receive hook declined/);
  assert.equal((await viaEdge(daemon.edge, 'greeter.localhost')).body, 'hello again in 2m\n');

  // Refusals: a shell, an unknown repository, port forwarding, an unknown key, a removed key.
  const ssh = [...sshCommand(key, sshPort), 'git@127.0.0.1'];
  const shell = await run(ssh[0]!, ssh.slice(1), { input: 'id\n' });
  assert.equal(shell.code, 1);
  assert.match(shell.stderr, /gives no shell access/);
  const unknownRepo = await run(ssh[0]!, [...ssh.slice(1), "git-receive-pack 'nope.git'"]);
  assert.equal(unknownRepo.code, 1);
  assert.match(unknownRepo.stderr, /no app is named "nope"/);
  client = await new Promise<ssh2.Client>((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    void readFile(key, 'utf8').then((privateKey) => c.connect({ host: '127.0.0.1', port: sshPort, username: 'git', privateKey }));
  });
  assert.ok(await refusedBy((cb) => client.forwardIn('127.0.0.1', 0, (err) => cb(err))), 'tcpip-forward is refused');
  assert.ok(await refusedBy((cb) => client.forwardOut('127.0.0.1', 1, '127.0.0.1', Number(new URL(daemon.api).port), (err) => cb(err))), 'direct-tcpip to the API is refused');
  const stranger = await sshKeygen(join(root, 'keys', 'stranger'), 'stranger');
  const strangerPush = await run('git', ['push', url, 'main'], { cwd: repo, env: await gitClient(join(root, 'stranger-home'), { sshKey: stranger, sshPort }) });
  assert.notEqual(strangerPush.code, 0);
  assert.match(strangerPush.output, /Permission denied \(publickey\)/);

  const removed = await berth(['keys', 'remove', 'alice-laptop'], cliEnv);
  assert.equal(removed.code, 0, removed.output);
  const afterRemoval = await run(ssh[0]!, [...ssh.slice(1), "git-upload-pack 'greeter.git'"]);
  assert.equal(afterRemoval.code, 255);
  assert.match(afterRemoval.stderr, /Permission denied \(publickey\)/);
  assert.equal((await viaEdge(daemon.edge, 'greeter.localhost')).body, 'hello again in 2m\n');
});
