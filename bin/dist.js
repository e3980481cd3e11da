// dist/: the runtime build of src/, and how bin/berth.js knows it is current.
//
// Node 24 runs berth's TypeScript directly, but its type stripper (a wasm
// module) costs tens of MiB in every thread that loads a .ts file, and
// stripping every module on every start costs time. `npm run build` (also
// run by `npm ci` / `npm install`, as the `prepare` script) compiles src/ to
// plain JavaScript in dist/ with tsc, which rewrites the `.ts` import
// specifiers to `.js`.
//
// A dist/ older than the sources must never run silently (after `git pull`,
// or while editing src/). So the build first records the state of every
// source it compiles (path, size and mtime of each src/**/*.ts and of the
// tsconfig files) and writes that record to dist/.sources last; bin/berth.js
// runs dist/ only when the sources still match the record exactly, which
// catches edited, added, deleted and replaced files alike (a check of the
// newest mtime would miss a deleted file or an older copy put back). The
// check stats about a hundred files, a millisecond or two. Anything else
// (no dist/, an interrupted build, a different tree) runs the sources.
//
// An installed package (`npm pack`, then `npm install -g` of the tarball)
// holds dist/ and none of the TypeScript sources (package.json's "files"):
// with no sources to be stale against, its dist/ is the program. (It could
// not run from sources anyway: Node strips no types under node_modules.)
// `npm pack` builds it first (the prepack script, --for-package), and fails
// rather than pack a tarball without a build. The package also carries the
// lockfile as npm-shrinkwrap.json (written for the pack, removed after it by
// --after-package): a global install then gets exactly the dependency
// versions the tests ran with, as npm advises for command-line tools, and
// needs no registry metadata, so `npm install -g --offline` works from a
// filled cache.
//
// This file is plain JavaScript so that the check itself never needs the
// type stripper. Run as a program (`node bin/dist.js [--quiet]
// [--if-stale | --for-package]`), it builds.
import { copyFileSync, existsSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository this file belongs to. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const RECORD = join('dist', '.sources');
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

/**
 * One line per source file: "path size mtime", sorted by path.
 * @param {string} root
 * @returns {string}
 */
export function sourceState(root) {
  const src = join(root, 'src');
  const files = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
  const lines = [...CONFIGS.map((name) => join(root, name)), ...files].map((file) => {
    const stat = statSync(file, { throwIfNoEntry: false });
    return `${relative(root, file)} ${stat?.size ?? '-'} ${stat?.mtimeMs ?? '-'}`;
  });
  return lines.sort().join('\n') + '\n';
}

/** The sources' own entry point, absent from an installed package. */
export const SOURCE_ENTRY = join('src', 'cli', 'main.ts');
const BUILT_ENTRY = join('dist', 'cli', 'main.js');

/**
 * The built entry point when dist/ was built from exactly the sources now
 * in src/, or when there are no sources (an installed package); otherwise
 * null, with `stale` telling whether a build exists.
 * @param {string} root
 * @returns {{ entry: URL | null, stale: boolean }}
 */
export function builtEntry(root) {
  if (!existsSync(join(root, SOURCE_ENTRY))) {
    return { entry: existsSync(join(root, BUILT_ENTRY)) ? pathToFileURL(join(root, BUILT_ENTRY)) : null, stale: false };
  }
  let record;
  try {
    record = readFileSync(join(root, RECORD), 'utf8');
  } catch {
    return { entry: null, stale: false };
  }
  if (record !== sourceState(root)) return { entry: null, stale: true };
  return { entry: pathToFileURL(join(root, BUILT_ENTRY)), stale: false };
}

/**
 * Compiles src/ into dist/ (tsc -p tsconfig.build.json). The record is taken
 * before compiling, so a source edited during the build makes it stale, and
 * written after, so an interrupted build is never taken for a current one.
 * `ifStale` (npm's prepare, which runs after prepack's build) leaves a
 * current build alone; `forPackage` (prepack) fails instead of leaving berth
 * to run from sources a package will not hold.
 * @param {string} root
 * @param {{ quiet?: boolean, ifStale?: boolean, forPackage?: boolean }} [options]
 * @returns {Promise<number>} the exit code
 */
export async function build(root, options = {}) {
  const { writeFileSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  if (!existsSync(join(root, SOURCE_ENTRY))) return 0; // an installed package: its dist/ is all there is
  if (options.ifStale && builtEntry(root).entry !== null) return 0;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  rmSync(join(root, RECORD), { force: true });
  if (!existsSync(tsc)) {
    if (options.forPackage) {
      process.stderr.write('berth build: TypeScript is not installed, and a package must hold dist/; run `npm ci` first\n');
      return 1;
    }
    // An install without dev dependencies: berth runs from its sources.
    if (!options.quiet) process.stderr.write('berth build: TypeScript is not installed; berth will run from its sources\n');
    return 0;
  }
  const state = sourceState(root);
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(options.forPackage ? 'berth build: tsc failed; no package was made\n' : 'berth build: tsc failed; berth will run from its sources\n');
    return result.status ?? 1;
  }
  writeFileSync(join(root, RECORD), state);
  if (!options.quiet) process.stderr.write(`berth build: compiled src/ to ${join(root, 'dist')}\n`);
  if (options.forPackage) copyFileSync(join(root, 'package-lock.json'), join(root, SHRINKWRAP));
  return 0;
}

const SHRINKWRAP = 'npm-shrinkwrap.json';

/**
 * After `npm pack`: the shrinkwrap goes again, so that the repository's own
 * installs keep reading package-lock.json.
 * @param {string} root
 */
export function afterPackage(root) {
  rmSync(join(root, SHRINKWRAP), { force: true });
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flag = (/** @type {string} */ name) => process.argv.includes(name);
  if (flag('--after-package')) afterPackage(ROOT);
  else process.exitCode = await build(ROOT, { quiet: flag('--quiet'), ifStale: flag('--if-stale'), forPackage: flag('--for-package') });
}
