import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../errors.ts';
import { appName, branchName } from '../platform/names.ts';
import { gitEnv } from './git-process.ts';
import { HOOK_PROGRAM, HOOK_PROGRAM_SOURCE, preReceiveWrapper } from './hook-script.ts';

const run = promisify(execFile);

export interface RepositoriesOptions {
  /** STATE/git: one bare repository per app, NAME.git. */
  readonly root: string;
  /** The node binary that runs the hook (the daemon's own). */
  readonly nodePath: string;
}

/**
 * The apps' bare repositories. A repository is made when it is first needed
 * (a push, a fetch) and its hook is rewritten each time it is opened, so a
 * berth upgrade (a new node path, a new hook) applies to old repositories.
 */
export class Repositories {
  readonly #options: RepositoriesOptions;
  /** One ensure() per app at a time. */
  readonly #pending = new Map<string, Promise<string>>();

  constructor(options: RepositoriesOptions) {
    this.#options = options;
  }

  /** STATE/git/NAME.git (the name is checked, so the path stays inside the root). */
  pathOf(app: string): string {
    return join(this.#options.root, `${appName(app)}.git`);
  }

  /** The app's repository, created if missing, with berth's hook and HEAD on the deploy branch. */
  ensure(app: string, deployBranch: string): Promise<string> {
    const dir = this.pathOf(app);
    const branch = branchName(deployBranch);
    const previous = this.#pending.get(app) ?? Promise.resolve(dir);
    const next = previous.catch(() => dir).then(() => this.#ensure(dir, branch));
    this.#pending.set(app, next);
    void next.finally(() => {
      if (this.#pending.get(app) === next) this.#pending.delete(app);
    }).catch(() => {});
    return next;
  }

  async #ensure(dir: string, branch: string): Promise<string> {
    await mkdir(this.#options.root, { recursive: true, mode: 0o700 });
    if (!(await exists(join(dir, 'HEAD')))) await this.#create(dir, branch);
    await this.#installHook(dir);
    await git(dir, ['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
    return dir;
  }

  /** `git init --bare` in a temp folder, configured, then renamed into place (a half-made repository is never seen). */
  async #create(dir: string, branch: string): Promise<void> {
    const temp = `${dir}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await git(this.#options.root, ['init', '--quiet', '--bare', '--template=', `--initial-branch=${branch}`, temp]);
      // Pushed objects are checked (a corrupt or malicious pack is refused), and
      // the repository never grows a second deploy path through reflogs or updates.
      await git(temp, ['config', 'receive.fsckObjects', 'true']);
      await git(temp, ['config', 'core.logAllRefUpdates', 'false']);
      await chmod(temp, 0o700);
      try {
        await rename(temp, dir);
      } catch (err) {
        // Made by someone else meanwhile: theirs is as good as ours.
        if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  async #installHook(dir: string): Promise<void> {
    const hooks = join(dir, 'hooks');
    await mkdir(hooks, { recursive: true, mode: 0o700 });
    const program = join(hooks, HOOK_PROGRAM);
    await writeIfChanged(program, HOOK_PROGRAM_SOURCE, 0o600);
    await writeIfChanged(join(hooks, 'pre-receive'), preReceiveWrapper(this.#options.nodePath, program), 0o700);
  }

  /** The commit a branch of the app's repository points at, or null when it does not exist. */
  async branchHead(app: string, branch: string): Promise<string | null> {
    const ref = `refs/heads/${branchName(branch)}`;
    const out = await git(this.pathOf(app), ['for-each-ref', '--format=%(objectname)', ref]);
    return out.trim() === '' ? null : out.trim();
  }

  /** Deletes the app's repository (after the app is destroyed); nothing happens when there is none. */
  async remove(app: string): Promise<void> {
    await rm(this.pathOf(app), { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes a file through a temp file and a rename, only when its content or mode differ. */
async function writeIfChanged(path: string, content: string, mode: number): Promise<void> {
  try {
    const [current, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    if (current === content && (info.mode & 0o777) === mode) return;
  } catch {
    // Missing: write it.
  }
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, content, { mode, flag: 'wx' });
  await chmod(temp, mode);
  await rename(temp, path);
}

async function git(cwd: string, args: readonly string[]): Promise<string> {
  try {
    return (await run('git', args, { cwd, env: gitEnv(), timeout: 30_000 })).stdout;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new BerthError('BERTH_E_STATE', `git ${args[0]} failed in ${cwd}: ${stderr || (err as Error).message}`, { status: 500, hint: 'Check that git is installed and the state folder is writable.' });
  }
}
