// The edge's code identity: a hash of the files an edge process runs (the
// edge, this subsystem and what they import from the rest of berth) and
// of the Node.js that runs them. Two daemons from the same build agree on
// it, so a restarted daemon keeps the edge; a new build that changes the
// edge hands over to a new edge process. Computed once per process.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

// Relative to the source (or dist) root; folders are hashed whole.
const EDGE_CODE = ['edge', 'edge-process', 'safe-fs', 'net', 'listen', 'errors', 'units'];

let computed: string | null = null;

/** This build's edge identity; `salt` stands for a different build (tests and benches). */
export function codeIdentity(salt = ''): string {
  computed ??= hashCode();
  return salt === '' ? computed : createHash('sha256').update(computed).update('\0').update(salt).digest('hex').slice(0, 32);
}

function hashCode(): string {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // This module's own extension: .ts from the sources, .js from dist/.
  const ext = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
  const hash = createHash('sha256').update(process.version).update('\0');
  for (const name of EDGE_CODE) {
    for (const file of filesOf(root, name, ext)) hash.update(file).update('\0').update(readFileSync(join(root, file))).update('\0');
  }
  return hash.digest('hex').slice(0, 32);
}

/** `name` (a folder, walked in sorted order) or `name + ext` (a file), as paths under `root`. */
function filesOf(root: string, name: string, ext: string): string[] {
  try {
    const out: string[] = [];
    const walk = (relative: string) => {
      for (const entry of readdirSync(join(root, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const path = join(relative, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile() && entry.name.endsWith(ext)) out.push(path);
      }
    };
    walk(name);
    return out;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR' || (err as NodeJS.ErrnoException).code === 'ENOENT') return [`${name}${ext}`];
    throw err;
  }
}
