import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ApiServer } from '../../src/api/api-server.ts';
import { registerGitRoutes } from '../../src/api/git-routes.ts';
import { unpackSource } from '../../src/build/index.ts';
import { BerthError } from '../../src/errors.ts';
import { fingerprintOf, GitService, GitSshServer, loadHostKey, parsePublicKey, type GitApps, type GitSshServerOptions } from '../../src/git/index.ts';

export const TOKEN = 'berth_test_token_0123456789abcdef';

/** One deploy the stand-in platform received. */
export interface Deployed {
  readonly app: string;
  readonly description: string;
  readonly actor: string;
  readonly files: Record<string, string>;
}

/**
 * The git subsystem for real (repositories, hook, receive-pack, smart HTTP
 * on an ApiServer, optionally SSH) in front of a stand-in platform: deploys
 * unpack the pushed tree with berth's own unpacker and fail when it holds a
 * file named FAIL, like a build that fails.
 */
export async function gitStack(t: { after(fn: () => unknown): void }, options: { ssh?: Partial<GitSshServerOptions>; keys?: Record<string, string> } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'berth-git-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const stateDir = join(root, 'state');
  const logged: string[] = [];
  const log = (line: string) => logged.push(line);
  const branches = new Map<string, string>([['shop', 'main'], ['blog', 'production']]);
  const deployed: Deployed[] = [];
  let version = 0;
  const apps: GitApps = {
    deployBranch(app) {
      const branch = branches.get(app);
      if (branch === undefined) throw new BerthError('BERTH_E_APP_NOT_FOUND', `no app is named "${app}"`, { status: 404 });
      return branch;
    },
    async deploy(app: string, upload: Readable, opts) {
      const dir = join(root, 'builds', String(++version));
      await mkdir(dir, { recursive: true });
      await unpackSource(upload, dir);
      const files: Record<string, string> = {};
      for (const name of await readdir(dir, { recursive: true })) {
        try {
          files[name] = await readFile(join(dir, name), 'utf8');
        } catch {
          // a folder
        }
      }
      opts.log(`building ${Object.keys(files).length} files`);
      if ('FAIL' in files) {
        opts.log('web.1 exited with code 2');
        throw new BerthError('BERTH_E_RELEASE_FAILED', 'the new release did not become ready', { status: 422 });
      }
      deployed.push({ app, description: opts.description, actor: opts.actor, files });
      return { version };
    },
  };
  const git = await GitService.start({ stateDir, apps, log });
  t.after(() => git.close());
  const api = new ApiServer({ authenticate: (token) => (token === TOKEN ? 'ci' : null), log });
  registerGitRoutes(api, git, log);
  const address = await api.listen('127.0.0.1', 0);
  t.after(() => api.close());
  const base = `http://127.0.0.1:${address.port}`;

  let sshPort = 0;
  let hostFingerprint = '';
  if (options.ssh !== undefined || options.keys !== undefined) {
    const hostKey = await loadHostKey(stateDir);
    hostFingerprint = hostKey.fingerprint;
    const registered = new Map<string, { name: string; publicKey: string }>();
    for (const [name, text] of Object.entries(options.keys ?? {})) {
      const key = parsePublicKey(text);
      registered.set(key.fingerprint, { name, publicKey: key.publicKey });
    }
    const ssh = new GitSshServer({
      hostKey: hostKey.privateKey,
      findKey: (fingerprint) => registered.get(fingerprint) ?? null,
      actorOf: (name) => `ssh:${name}`,
      git,
      log,
      ...options.ssh,
    });
    sshPort = (await ssh.listen('127.0.0.1', 0)).port;
    t.after(() => ssh.close(0));
  }
  return { root, stateDir, base, git, deployed, logged, branches, sshPort, hostFingerprint, fingerprintOf };
}
