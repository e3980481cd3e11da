import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Names never packed, at any depth: git's own data, and the dependencies the build installs. */
export const ALWAYS_EXCLUDED: ReadonlySet<string> = new Set(['.git', 'node_modules']);

/**
 * Which paths of an app folder `berth deploy` leaves out: every `.gitignore`
 * (root and nested, gitignore semantics) and then the root `.berthignore`,
 * which has the last word, so `!dist/` ships build output git ignores.
 *
 * All rules live in one matcher over root-relative paths, in git's order of
 * precedence (a deeper file overrides a shallower one; within a file the last
 * match wins). A nested file's patterns are rewritten for the root rather than
 * kept in a matcher of their own, because a separate matcher would also judge
 * the parents and say "ignored" for a file whose folder a later file
 * re-included. Matching is case-sensitive on every client, so a deploy packs
 * the same files from macOS as from Linux.
 */
export class IgnoreRules {
  readonly #root: string;
  readonly #gitignores: string[] = [];
  #berthignore: string[] = [];
  #matcher: Ignore = ignore({ ignorecase: false });

  private constructor(root: string) {
    this.#root = root;
  }

  static async load(root: string): Promise<IgnoreRules> {
    const rules = new IgnoreRules(root);
    rules.#berthignore = (await readRegularFile(join(root, '.berthignore')))?.split(/\r?\n/) ?? [];
    rules.#rebuild();
    return rules;
  }

  /** Adds the `.gitignore` of a folder about to be walked (segments from the root), if it has one. */
  async enter(dir: readonly string[]): Promise<void> {
    const text = await readRegularFile(join(this.#root, ...dir, '.gitignore'));
    if (text === null) return;
    for (const line of text.split(/\r?\n/)) {
      const pattern = rebasePattern(line, dir);
      if (pattern !== null) this.#gitignores.push(pattern);
    }
    this.#rebuild();
  }

  /** Whether `path` (root-relative, `/`-separated) is left out. */
  ignores(path: string, isDirectory: boolean): boolean {
    return this.#matcher.ignores(isDirectory ? `${path}/` : path);
  }

  #rebuild(): void {
    this.#matcher = ignore({ ignorecase: false }).add(this.#gitignores).add(this.#berthignore);
  }
}

async function readRegularFile(path: string): Promise<string | null> {
  try {
    // Like git, a linked or odd ignore file is not read.
    if (!(await lstat(path)).isFile()) return null;
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Rewrites one line of `DIR/.gitignore` into the line that means the same from
 * the root, or null for blanks and comments. gitignore(5): a pattern with a
 * slash before its end is relative to its file's folder; one without matches
 * at any depth below that folder.
 */
export function rebasePattern(line: string, dir: readonly string[]): string | null {
  let body = stripTrailingSpaces(line);
  if (body === '' || body.startsWith('#')) return null;
  if (dir.length === 0) return body;
  let negation = '';
  if (body.startsWith('!')) {
    negation = '!';
    body = body.slice(1);
  }
  const base = dir.map(escapeGlob).join('/');
  const anchored = body.slice(0, -1).includes('/');
  if (anchored) return `${negation}/${base}/${body.replace(/^\//, '')}`;
  if (body === '/') return null;
  return `${negation}/${base}/**/${body}`;
}

/** gitignore(5): trailing spaces are ignored unless quoted with a backslash. */
function stripTrailingSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && line[end - 1] === ' ') {
    let backslashes = 0;
    while (end - 2 - backslashes >= 0 && line[end - 2 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 1) break;
    end--;
  }
  return line.slice(0, end);
}

/** A folder name used as a literal inside a pattern. */
function escapeGlob(name: string): string {
  return name.replace(/[\\*?[\]]/g, '\\$&');
}
