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
// This file is plain JavaScript so that the check itself never needs the
// type stripper. Run as a program (`node bin/dist.js [--quiet]`), it builds.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
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

/**
 * The built entry point when dist/ was built from exactly the sources now
 * in src/; otherwise null, with `stale` telling whether a build exists.
 * @param {string} root
 * @returns {{ entry: URL | null, stale: boolean }}
 */
export function builtEntry(root) {
  let record;
  try {
    record = readFileSync(join(root, RECORD), 'utf8');
  } catch {
    return { entry: null, stale: false };
  }
  if (record !== sourceState(root)) return { entry: null, stale: true };
  return { entry: pathToFileURL(join(root, 'dist', 'cli', 'main.js')), stale: false };
}

/**
 * Compiles src/ into dist/ (tsc -p tsconfig.build.json). The record is taken
 * before compiling, so a source edited during the build makes it stale, and
 * written after, so an interrupted build is never taken for a current one.
 * @param {string} root
 * @param {{ quiet?: boolean }} [options]
 * @returns {Promise<number>} the exit code
 */
export async function build(root, options = {}) {
  const { rmSync, writeFileSync, existsSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  rmSync(join(root, RECORD), { force: true });
  if (!existsSync(tsc)) {
    // An install without dev dependencies: berth runs from its sources.
    if (!options.quiet) process.stderr.write('berth build: TypeScript is not installed; berth will run from its sources\n');
    return 0;
  }
  const state = sourceState(root);
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write('berth build: tsc failed; berth will run from its sources\n');
    return result.status ?? 1;
  }
  writeFileSync(join(root, RECORD), state);
  if (!options.quiet) process.stderr.write(`berth build: compiled src/ to ${join(root, 'dist')}\n`);
  return 0;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await build(ROOT, { quiet: process.argv.includes('--quiet') });
}
