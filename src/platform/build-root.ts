import { readdir } from 'node:fs/promises';
import { BerthError } from '../errors.ts';
import { chooseBaseLanguage, discoverRootEnvironment, imageVariables, NO_SANDBOX, type AppPlan, type BaseLanguage, type BuildEnvironment, type Sandbox } from '../build/index.ts';
import { DEFAULT_APP_DIR, formatReference, unpackRootfs, type BaseImage, type LayerCache } from '../oci/index.ts';
import { runOnce, type Launcher, type RunAs } from '../runner/index.ts';
import { imageRootMountPoints, ROOT_CACHE_DIR } from '../sandbox/index.ts';
import type { AppPaths } from './app-dirs.ts';
import type { Containment } from './containment.ts';

// A build inside its base image (issue 17): the build runs as it does on
// the host, but with the base image's root filesystem as `/`, so native
// modules and virtualenvs are made against what the image will run, and
// the build folder at the image's app folder (/app), so paths written into
// it (a virtualenv's scripts) are the image's. BuildStep does this when it
// is given a BuildRootProvider; the platform makes one from pulled bases
// (prepareBuildRoot).

/** A base image's root, unpacked for builds. */
export interface BuildRoot {
  /** The unpacked root on this machine (unpackRootfs, its mount points made: prepareBuildRoot). */
  readonly rootfs: string;
  readonly base: BaseImage;
  /** Where the build is inside (the image's app folder, as buildImage puts the release). */
  readonly appDir: string;
}

/** The root a build of this language runs in: a pulled base for it, unpacked. */
export type BuildRootProvider = (language: BaseLanguage, log: (line: string) => void) => Promise<BuildRoot>;

/** A pulled base unpacked (once; reused after) under `rootsDir` (berth's own, say STATE/oci/rootfs) for builds. */
export async function prepareBuildRoot(base: BaseImage, cache: LayerCache, rootsDir: string, appDir: string = DEFAULT_APP_DIR): Promise<BuildRoot> {
  const unpacked = await unpackRootfs(base, cache, { rootsDir, mountPoints: imageRootMountPoints(appDir) });
  return { rootfs: unpacked.path, base, appDir };
}

/** What BuildStep runs a build inside its base image with. */
export interface RootBuild {
  readonly root: BuildRoot;
  readonly environment: { readonly build: BuildEnvironment; readonly sandbox: Sandbox };
  readonly launcher: Launcher;
  /** The build folder and cache as the build's commands see them. */
  readonly dir: string;
  readonly cacheDir: string;
  /** The build's environment inside: the image's Env, then berth's build variables, the image's PATH, HOME and TMPDIR in /tmp. */
  env(buildEnv: Readonly<Record<string, string>>): Record<string, string>;
  /** The plan, marked with the base it was built in. */
  mark(plan: AppPlan): AppPlan;
}

export interface RootBuildOptions {
  readonly app: string;
  /** The unpacked source (still root's). */
  readonly dir: string;
  readonly paths: AppPaths;
  readonly user: RunAs | null;
  readonly containment: Containment;
  /** The build's variables (ProcessSetup.buildEnv) for the probes. */
  readonly buildEnv: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
}

/** How long the image's `node` or `python3` may take to say what it is. */
const PROBE_TIMEOUT_MS = 30_000;

/**
 * Sets a build up inside its base image: the language chosen from the
 * folder's names, the provider's root for it, the app's sandbox over that
 * root, and the image's Node and Python found by running them there. null
 * when the folder names no language (a static site, a Procfile app of
 * another language): it builds as before.
 */
export async function rootBuild(provider: BuildRootProvider, options: RootBuildOptions): Promise<RootBuild | null> {
  const language = chooseBaseLanguage(await readdir(options.dir));
  if (language === null) {
    options.log('no package.json, requirements.txt, pyproject.toml or Pipfile: no base image is chosen, the build runs on this machine');
    return null;
  }
  const root = await provider(language, options.log);
  const { launcher } = await options.containment.buildInRoot(options.app, options.user, options.paths, root, options.dir);
  const image = imageVariables(root.base.config.env);
  const env = (buildEnv: Readonly<Record<string, string>>) => ({ ...image, ...buildEnv, PATH: image.PATH!, HOME: '/tmp', TMPDIR: '/tmp' });
  const probeEnv = env(options.buildEnv);
  const probe = async (argv: readonly string[]) => {
    const lines: string[] = [];
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
    const code = await runOnce(argv, { cwd: root.appDir, env: probeEnv, onLine: (line) => lines.length < 100 && lines.push(line), signal, user: options.user, launcher, label: 'build' });
    return { code, lines };
  };
  const build = await discoverRootEnvironment(probe);
  const reference = formatReference({ ...root.base.reference, digest: undefined });
  if ((language === 'node' && build.nodes.length === 0) || (language === 'python' && build.pythons.length === 0)) {
    throw new BerthError('BERTH_E_BUILD_ROOT', `the ${language} base image ${reference}@${root.base.manifestDigest} has no ${language === 'node' ? 'node' : 'python3'} on its PATH (${image.PATH})`, {
      status: 422,
      hint: `choose a base image with ${language === 'node' ? 'Node' : 'Python'} for ${language} apps (--base-image ${language}=REF)`,
    });
  }
  const found = [...build.nodes.map((n) => `Node ${n.version}`), ...build.pythons.map((p) => `Python ${p.version} (${p.binary})`)];
  options.log(`building inside the ${language} base image ${reference}@${root.base.manifestDigest}: ${found.length === 0 ? 'it has neither Node nor Python' : found.join(', ')}`);
  return {
    root,
    environment: { build, sandbox: NO_SANDBOX },
    launcher,
    dir: root.appDir,
    cacheDir: ROOT_CACHE_DIR,
    env,
    mark: (plan) => (plan.kind === 'processes' ? { ...plan, baseImage: { reference, manifestDigest: root.base.manifestDigest } } : plan),
  };
}
