import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { commitFiles, git, gitClient, makeRepo, run, sshCommand, sshKeygen } from './git-helpers.ts';
import { gitStack } from './stack.ts';

/** An authenticated ssh2 client (the test's stand-in for hostile or unusual SSH clients). */
function client(port: number, privateKey: string): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({ host: '127.0.0.1', port, username: 'git', privateKey, readyTimeout: 10_000 });
  });
}

/** Runs a command on an ssh2 client: its exit status and stderr, or the error that refused it. */
function exec(c: ssh2.Client, command: string, options: ssh2.ExecOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string } | Error> {
  return new Promise((resolve) => {
    c.exec(command, options, (err, channel) => {
      if (err) return resolve(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      channel.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      channel.on('exit', (status: number | null) => (code = status));
      channel.on('close', () => resolve({ code, stdout, stderr }));
      channel.end();
    });
  });
}

function refused(what: (cb: (err: Error | null | undefined) => void) => void): Promise<Error | null | undefined> {
  return new Promise((resolve) => what((err) => resolve(err)));
}

async function keyPair(dir: string, name: string) {
  const path = await sshKeygen(join(dir, name), `${name}@test`);
  return { path, publicKey: await readFile(`${path}.pub`, 'utf8'), privateKey: await readFile(path, 'utf8') };
}

test('git push over SSH with a registered key deploys, audited as ssh:KEY; fetch works; an unknown key is refused', async (t) => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const keysDir = await mkdtemp(join(tmpdir(), 'berth-sshkeys-'));
  const alice = await keyPair(keysDir, 'alice');
  const mallory = await keyPair(keysDir, 'mallory');
  const stack = await gitStack(t, { keys: { alice: alice.publicKey } });
  t.after(() => import('node:fs/promises').then((fs) => fs.rm(keysDir, { recursive: true, force: true })));

  const env = await gitClient(join(stack.root, 'home'), { sshKey: alice.path, sshPort: stack.sshPort });
  const repo = join(stack.root, 'work');
  await makeRepo(repo, env, { 'Procfile': 'web: node server.js\n', 'server.js': 'v1\n' });
  for (const url of [`ssh://git@127.0.0.1:${stack.sshPort}/shop.git`]) {
    const pushed = await run('git', ['push', url, 'main'], { cwd: repo, env });
    assert.equal(pushed.code, 0, pushed.output);
    assert.match(pushed.output, /remote: berth: deploying [0-9a-f]{7} to shop/);
    assert.match(pushed.output, /remote: building 2 files/);
  }
  assert.deepEqual(stack.deployed.map((d) => [d.app, d.actor]), [['shop', 'ssh:alice']]);
  await commitFiles(repo, env, { 'server.js': 'v2\n' }, 'second');
  // scp-style address, as `git remote add berth git@host:shop.git` would give (with the port from GIT_SSH_COMMAND).
  const second = await run('git', ['push', 'git@127.0.0.1:shop', 'main'], { cwd: repo, env });
  assert.equal(second.code, 0, second.output);
  assert.equal(stack.deployed[1]!.files['server.js'], 'v2\n');

  const clone = join(stack.root, 'clone');
  const cloned = await run('git', ['clone', '-q', `ssh://git@127.0.0.1:${stack.sshPort}/shop.git`, clone], { env });
  assert.equal(cloned.code, 0, cloned.output);
  assert.equal(await readFile(join(clone, 'server.js'), 'utf8'), 'v2\n');

  const strangerEnv = await gitClient(join(stack.root, 'stranger'), { sshKey: mallory.path, sshPort: stack.sshPort });
  await commitFiles(repo, strangerEnv, { 'server.js': 'evil\n' }, 'evil');
  const stranger = await run('git', ['push', `ssh://git@127.0.0.1:${stack.sshPort}/shop.git`, 'main'], { cwd: repo, env: strangerEnv });
  assert.notEqual(stranger.code, 0);
  assert.match(stranger.output, /Permission denied \(publickey\)/);
  await assert.rejects(client(stack.sshPort, mallory.privateKey), { level: 'client-authentication' });
  assert.equal(stack.deployed.length, 2);
});

test('over SSH only git runs: shells, commands, scp, sftp, ptys, X11, agent and port forwarding are refused', async (t) => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const keysDir = await mkdtemp(join(tmpdir(), 'berth-sshkeys-'));
  t.after(() => import('node:fs/promises').then((fs) => fs.rm(keysDir, { recursive: true, force: true })));
  const alice = await keyPair(keysDir, 'alice');
  const stack = await gitStack(t, { keys: { alice: alice.publicKey } });
  const ssh = [...sshCommand(alice.path, stack.sshPort), 'git@127.0.0.1'];

  // The real OpenSSH client.
  const shell = await run(ssh[0]!, [...ssh.slice(1)], { input: 'id\n' });
  assert.equal(shell.code, 1, shell.output);
  assert.match(shell.stderr, /berth: hi alice: you are authenticated, but berth gives no shell access; it serves git only/);
  const command = await run(ssh[0]!, [...ssh.slice(1), 'cat', '/etc/passwd']);
  assert.equal(command.code, 1);
  assert.match(command.stderr, /berth serves git only .*"cat" is not available/);
  assert.doesNotMatch(command.stdout, /root:/);
  const tty = await run(ssh[0]!, ['-tt', ...ssh.slice(1), 'id']);
  assert.notEqual(tty.code, 0);
  assert.match(tty.stderr, /PTY allocation request failed/);
  await writeFile(join(keysDir, 'file.txt'), 'x');
  for (const legacy of [[], ['-O']]) {
    const scp = await run('scp', [...legacy, '-i', alice.path, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-P', String(stack.sshPort), join(keysDir, 'file.txt'), 'git@127.0.0.1:/tmp/berth-scp-test']);
    assert.notEqual(scp.code, 0, `scp ${legacy.join(' ')}: ${scp.output}`);
  }
  const badRepo = await run(ssh[0]!, [...ssh.slice(1), "git-receive-pack '../x.git'"]);
  assert.equal(badRepo.code, 1);
  assert.match(badRepo.stderr, /"\.\.\/x\.git" is not a berth repository \[BERTH_E_GIT_REPO\]/);
  const unknown = await run(ssh[0]!, [...ssh.slice(1), "git-upload-pack 'nope.git'"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no app is named "nope" \[BERTH_E_APP_NOT_FOUND\]/);

  // ssh2's client, for the requests OpenSSH's client makes hard to send on purpose.
  const c = await client(stack.sshPort, alice.privateKey);
  t.after(() => c.end());
  assert.match(String(await refused((cb) => c.forwardIn('127.0.0.1', 0, (err) => cb(err)))), /Unable to bind|rejected|fail/i);
  assert.ok(await refused((cb) => c.forwardOut('127.0.0.1', 1, '127.0.0.1', stack.sshPort, (err) => cb(err))), 'direct-tcpip is refused');
  assert.ok(await refused((cb) => c.openssh_forwardInStreamLocal('/tmp/berth-test.sock', (err) => cb(err))), 'streamlocal-forward is refused');
  assert.ok(await refused((cb) => c.openssh_forwardOutStreamLocal(stack.stateDir + '/run/git-hook.sock', (err) => cb(err))), 'direct-streamlocal to the hook socket is refused');
  assert.ok(await refused((cb) => c.sftp((err) => cb(err))), 'sftp is refused');
  const pty = await exec(c, "git-upload-pack 'shop.git'", { pty: true });
  assert.ok(pty instanceof Error && /pseudo-terminal|pty/i.test(pty.message), String(pty));
  const x11 = await exec(c, "git-upload-pack 'shop.git'", { x11: true });
  assert.ok(x11 instanceof Error && /X11/i.test(x11.message), String(x11));
  const scpExec = await exec(c, 'scp -t /tmp');
  assert.ok(!(scpExec instanceof Error) && scpExec.code === 1 && /"scp" is not available/.test(scpExec.stderr));
  assert.match(stack.logged.join('\n'), /ssh: refused tcpip-forward for key alice/);
  assert.match(stack.logged.join('\n'), /ssh: refused direct-tcpip to 127\.0\.0\.1:\d+ for key alice/);

  // Agent forwarding, with an (empty) agent so ssh2 asks for it.
  class EmptyAgent extends ssh2.BaseAgent {
    getIdentities(cb: (err: Error | undefined, keys?: Buffer[]) => void): void {
      cb(undefined, []);
    }
    sign(_pubKey: unknown, _data: Buffer, _options: unknown, cb?: (err: Error | undefined, signature?: Buffer) => void): void {
      cb?.(new Error('no keys'));
    }
  }
  const withAgent = await new Promise<ssh2.Client>((resolve, reject) => {
    const agentClient = new ssh2.Client();
    agentClient.once('ready', () => resolve(agentClient));
    agentClient.once('error', reject);
    agentClient.connect({ host: '127.0.0.1', port: stack.sshPort, username: 'git', privateKey: alice.privateKey, agent: new EmptyAgent() as unknown as ssh2.BaseAgent, agentForward: true });
  });
  t.after(() => withAgent.end());
  const agent = await exec(withAgent, "git-upload-pack 'shop.git'");
  assert.ok(agent instanceof Error && /agent forwarding/i.test(agent.message), String(agent));

  // Environment: git's protocol version is honoured, nothing else reaches git.
  const v2 = await exec(c, "git-upload-pack 'shop.git'", { env: { GIT_PROTOCOL: 'version=2', GIT_DIR: '/etc', GIT_CONFIG_PARAMETERS: "'core.fsmonitor=id'" } });
  assert.ok(!(v2 instanceof Error), String(v2));
  assert.match(v2.stdout, /version 2/);
  assert.equal(stack.deployed.length, 0);
});

function closedWithin(socketOrClient: { once(event: 'close', fn: () => void): unknown }, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socketOrClient.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

test('connections are limited, and idle ones are closed', async (t) => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const keysDir = await mkdtemp(join(tmpdir(), 'berth-sshkeys-'));
  t.after(() => import('node:fs/promises').then((fs) => fs.rm(keysDir, { recursive: true, force: true })));
  const alice = await keyPair(keysDir, 'alice');
  const stack = await gitStack(t, { keys: { alice: alice.publicKey }, ssh: { maxConnections: 1, idleTimeoutMs: 400 } });
  // One connection at a time here: the second is closed at once.
  const first = await client(stack.sshPort, alice.privateKey);
  first.on('error', () => {});
  const second = connect({ host: '127.0.0.1', port: stack.sshPort });
  second.on('error', () => {});
  second.on('data', () => {});
  assert.equal(await closedWithin(second, 5_000), true);
  assert.match(stack.logged.join('\n'), /ssh: refused a connection from .*: 1 connections are open/);
  // The authenticated one, idle, goes after idleTimeoutMs without traffic.
  assert.equal(await closedWithin(first, 5_000), true);
});

test('a connection that never authenticates is closed', async (t) => {
  const stack = await gitStack(t, { keys: {}, ssh: { authTimeoutMs: 300 } });
  const silent = connect({ host: '127.0.0.1', port: stack.sshPort });
  silent.on('error', () => {});
  silent.on('data', () => {});
  silent.write('SSH-2.0-test\r\n');
  assert.equal(await closedWithin(silent, 5_000), true);
});

test('the host key is made once, 0600, and kept', async (t) => {
  const stack = await gitStack(t, { keys: {} });
  const path = join(stack.stateDir, 'ssh', 'host_ed25519_key');
  const { stat } = await import('node:fs/promises');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(stack.stateDir, 'ssh'))).mode & 0o777, 0o700);
  const { loadHostKey } = await import('../../src/git/index.ts');
  const again = await loadHostKey(stack.stateDir);
  assert.equal(again.created, false);
  assert.equal(again.fingerprint, stack.hostFingerprint);
  const keyscan = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`]);
  assert.match(keyscan.stdout, new RegExp(stack.hostFingerprint.replace(/[+/]/g, '\\$&')));
  const { chmod } = await import('node:fs/promises');
  await chmod(path, 0o644);
  await assert.rejects(loadHostKey(stack.stateDir), { code: 'BERTH_E_STATE', message: /readable by others/ });
  void git;
});
