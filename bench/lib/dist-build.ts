import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Builds dist/ (unless told not to) and checks that it is the build of the sources now in src/: benches measure what ships. */
export async function ensureDistBuild(root: string, build: boolean, log: (line: string) => void): Promise<void> {
  if (build) {
    log('building dist/ from the current sources');
    const result = spawnSync(process.execPath, [join(root, 'bin', 'dist.js'), '--quiet'], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) throw new Error('npm run build failed');
  }
  const { builtEntry } = (await import(join(root, 'bin', 'dist.js'))) as { builtEntry(root: string): { entry: URL | null; stale: boolean } };
  if (builtEntry(root).entry === null) throw new Error('dist/ is missing or older than src/: run `npm run build` (or drop --no-build)');
}
