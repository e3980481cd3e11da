// The temp folder a run works in: static files plus one folder per server config.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STATIC_FILES } from './scenarios.ts';

export interface Workspace {
  readonly dir: string;
  readonly staticDir: string;
  /** A fresh folder for one server's config and state. */
  subdir(name: string): Promise<string>;
  remove(): Promise<void>;
}

/** Printable, deterministic, incompressible enough: no server gets a free ride from repetition. */
function content(bytes: number): Buffer {
  const body = Buffer.alloc(bytes);
  let state = 0x2545f491;
  for (let i = 0; i < bytes; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    body[i] = i % 64 === 63 ? 0x0a : 0x21 + ((state >>> 16) % 94);
  }
  return body;
}

export async function createWorkspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  // nginx's workers drop to an unprivileged user when the harness runs as root: they must be able to read.
  await chmod(dir, 0o755);
  const staticDir = join(dir, 'static');
  await mkdir(staticDir, { mode: 0o755 });
  for (const file of STATIC_FILES) await writeFile(join(staticDir, file.name), content(file.bytes), { mode: 0o644 });
  return {
    dir,
    staticDir,
    async subdir(name: string): Promise<string> {
      const path = join(dir, name);
      await rm(path, { recursive: true, force: true });
      await mkdir(path, { recursive: true, mode: 0o755 });
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
