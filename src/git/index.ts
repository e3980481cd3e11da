// The git subsystem's door: per-app bare repositories, pushes decided and
// deployed through berth's pre-receive hook, served over smart HTTP (on the
// API listener, see src/api/git-routes.ts) and over SSH (ssh2), and the
// parsing of the SSH keys that may push. Nothing happens at import.
import { join } from 'node:path';
import type { Platform } from '../platform/platform.ts';
import { sshActor } from '../platform/names.ts';
import { GitService, platformApps } from './git-service.ts';
import { loadHostKey } from './host-key.ts';
import { GitSshServer } from './ssh-server.ts';

export { GitService, platformApps, type GitApps, type GitServiceOptions } from './git-service.ts';
export { GitSshServer, SSH_DEFAULTS, type GitSshServerOptions, type SshKeyRecord } from './ssh-server.ts';
export { spawnGitService, gitEnv, type GitRunner, type GitServiceMode } from './git-process.ts';
export { advertiseRefs, serviceRpc, pktLine, MAX_GIT_REQUEST_BYTES, type RawAnswer } from './smart-http.ts';
export { parsePublicKey, fingerprintOf, keyNameFromComment, MAX_PUBLIC_KEY_BYTES, type PublicKeyInfo } from './ssh-keys.ts';
export { repositoryApp, parseSshCommand, serviceOf, type GitServiceName } from './repo-name.ts';
export { decidePush, parseRefUpdates, type PushDecision, type RefUpdate } from './ref-policy.ts';
export { loadHostKey, type HostKey } from './host-key.ts';
export { Repositories } from './repositories.ts';

export interface GitOptions {
  readonly stateDir: string;
  readonly platform: Platform;
  /** Where to serve git over SSH, or null for HTTP only. */
  readonly ssh: { readonly host: string | undefined; readonly port: number } | null;
  readonly log: (line: string) => void;
}

/** Git for `berth server`: the service (for the HTTP routes) and, when asked, the SSH server. */
export interface Git {
  readonly service: GitService;
  readonly ssh: GitSshServer | null;
  close(): Promise<void>;
}

/** Starts git for the daemon: the hook socket, and the SSH listener with its host key (made on first start). */
export async function startGit(options: GitOptions): Promise<Git> {
  const service = await GitService.start({ stateDir: options.stateDir, apps: platformApps(options.platform), log: options.log });
  let ssh: GitSshServer | null = null;
  try {
    if (options.ssh !== null) {
      const hostKey = await loadHostKey(options.stateDir);
      const store = options.platform.store;
      ssh = new GitSshServer({
        hostKey: hostKey.privateKey,
        findKey: (fingerprint) => store.findSshKey(fingerprint),
        actorOf: sshActor,
        git: service,
        // `run APP -- COMMAND` for every registered key, as git push is: whoever may deploy an app may run in it.
        runs: options.platform,
        log: options.log,
      });
      const address = await ssh.listen(options.ssh.host, options.ssh.port);
      const keyPath = join(options.stateDir, 'ssh', 'host_ed25519_key');
      options.log(`${hostKey.created ? 'created the SSH host key' : 'SSH host key'} ${keyPath}: ${hostKey.fingerprint} (ED25519)`);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      options.log(`ssh listening on ${host}:${address.port} (git push ssh://git@HOST:${address.port}/NAME.git)`);
    }
  } catch (err) {
    await service.close();
    throw err;
  }
  return {
    service,
    ssh,
    close: async () => {
      await ssh?.close();
      await service.close();
    },
  };
}
