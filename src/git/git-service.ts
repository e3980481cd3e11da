import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BerthError } from '../errors.ts';
import type { Platform } from '../platform/platform.ts';
import { spawnGitService, type GitServiceMode } from './git-process.ts';
import { HookChannel, type HookConversation, type Push } from './hook-channel.ts';
import { decidePush, type RefUpdate } from './ref-policy.ts';
import type { GitServiceName as ServiceName } from './repo-name.ts';
import { Repositories } from './repositories.ts';

/** What git pushes need from the platform. */
export interface GitApps {
  /** The branch a push deploys; throws BERTH_E_APP_NOT_FOUND for an unknown app. */
  deployBranch(app: string): string;
  /** Builds and rolls out a gzipped tarball of the source, like `berth deploy`. */
  deploy(app: string, upload: Readable, options: { description: string; actor: string; log: (line: string) => void }): Promise<{ readonly version: number }>;
}

/** The platform as git pushes see it. */
export function platformApps(platform: Platform): GitApps {
  return {
    deployBranch: (app) => platform.store.getApp(app).deployBranch,
    deploy: (app, upload, options) => platform.deploy(app, upload, options),
  };
}

export interface GitServiceOptions {
  readonly stateDir: string;
  readonly apps: GitApps;
  readonly log: (line: string) => void;
  /** The node binary that runs the hook; the daemon's own by default. */
  readonly nodePath?: string;
}

/**
 * Git for the apps, whatever the transport (smart HTTP or SSH): a bare
 * repository per app under STATE/git, `git receive-pack`/`git upload-pack`
 * run on them, and pushes decided and deployed through berth's pre-receive
 * hook. Pushes to one app run one at a time (the next receive-pack starts
 * when the previous one has ended), so the repository always ends at the
 * commit that was deployed last.
 */
export class GitService {
  readonly repositories: Repositories;
  readonly #options: GitServiceOptions;
  readonly #hooks: HookChannel;
  readonly #pushQueues = new Map<string, Promise<void>>();

  private constructor(options: GitServiceOptions, repositories: Repositories, hooks: HookChannel) {
    this.#options = options;
    this.repositories = repositories;
    this.#hooks = hooks;
  }

  static async start(options: GitServiceOptions): Promise<GitService> {
    const repositories = new Repositories({ root: join(options.stateDir, 'git'), nodePath: options.nodePath ?? process.execPath });
    let service: GitService | undefined;
    const hooks = await HookChannel.listen({
      socketPath: join(options.stateDir, 'run', 'git-hook.sock'),
      handler: (push, updates, conversation) => service!.#decide(push, updates, conversation),
      log: options.log,
    });
    service = new GitService(options, repositories, hooks);
    return service;
  }

  /**
   * Starts a git service on an app's repository (created when missing). An
   * unknown app is BERTH_E_APP_NOT_FOUND. A receive-pack that can take a
   * push first waits for the app's previous push to end, and gets the hook
   * secret in its environment; the caller wires the process's stdio to the
   * client and must let it end (it is cleaned up on 'close').
   */
  async open(service: ServiceName, app: string, actor: string, mode: GitServiceMode, env: Readonly<Record<string, string>> = {}): Promise<ChildProcess> {
    const dir = await this.repositories.ensure(app, this.#options.apps.deployBranch(app));
    if (service === 'upload-pack' || mode.advertise) return spawnGitService(service, dir, mode, env);
    const unlock = await this.#lockPushes(app);
    let session: ReturnType<HookChannel['open']> | undefined;
    try {
      session = this.#hooks.open({ app, actor });
      const child = spawnGitService(service, dir, mode, { ...env, ...session.env });
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        session!.close();
        unlock();
      };
      child.once('close', end);
      child.once('error', end);
      return child;
    } catch (err) {
      session?.close();
      unlock();
      throw err;
    }
  }

  /** Waits for the app's previous push to end; the returned function ends this one. */
  async #lockPushes(app: string): Promise<() => void> {
    const previous = this.#pushQueues.get(app) ?? Promise.resolve();
    let unlock!: () => void;
    const mine = new Promise<void>((resolve) => (unlock = resolve));
    const queued = previous.then(() => mine);
    this.#pushQueues.set(app, queued);
    void queued.then(() => {
      if (this.#pushQueues.get(app) === queued) this.#pushQueues.delete(app);
    });
    await previous;
    return unlock;
  }

  /** The hook's question: is this push allowed, and if it moves the deploy branch, deploy it. */
  async #decide(push: Push, updates: readonly RefUpdate[], conversation: HookConversation): Promise<string> {
    const branch = this.#options.apps.deployBranch(push.app);
    const decision = decidePush(updates, branch, await this.repositories.branchHead(push.app, branch));
    if (decision.kind === 'refuse') throw new BerthError('BERTH_E_PUSH_REFUSED', decision.message, { status: 403 });
    if (decision.kind === 'accept') return 'berth: nothing to deploy';
    const short = decision.rev.slice(0, 7);
    conversation.line(`berth: deploying ${short} to ${push.app}`);
    const tar = conversation.archive(decision.rev);
    const gzip = createGzip({ level: 1 });
    const packing = pipeline(tar, gzip).catch(() => {});
    const release = await this.#options.apps.deploy(push.app, gzip, { description: `git push ${short}`, actor: push.actor, log: (line) => conversation.line(line) });
    await packing;
    this.#options.log(`${push.app}: git push ${short} by ${push.actor} is v${release.version}`);
    return `berth: ${short} is deployed as v${release.version}`;
  }

  /** Deletes an app's repository (after it was destroyed). */
  removeRepository(app: string): Promise<void> {
    return this.repositories.remove(app);
  }

  close(): Promise<void> {
    return this.#hooks.close();
  }
}
