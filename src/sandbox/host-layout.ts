import { lstat, readlink } from 'node:fs/promises';
import { ETC_ALLOWED, TOP_LEVEL_SYSTEM, type HostLayout } from './spec.ts';

/** Which top-level system folders are links into /usr (merged /usr) and which allowed /etc entries this host has. */
export async function readHostLayout(): Promise<HostLayout> {
  const topLevel: Array<{ name: string; linkTo: string | null }> = [];
  for (const name of TOP_LEVEL_SYSTEM) {
    try {
      const facts = await lstat(`/${name}`);
      if (facts.isSymbolicLink()) {
        const to = await readlink(`/${name}`);
        // Only links into /usr are mirrored as links; anything else is left out (it is not the system).
        if (to.startsWith('usr/') || to.startsWith('/usr/')) topLevel.push({ name, linkTo: to });
      } else if (facts.isDirectory()) {
        topLevel.push({ name, linkTo: null });
      }
    } catch {
      // Not on this host.
    }
  }
  const etc: string[] = [];
  for (const name of ETC_ALLOWED) {
    try {
      await lstat(`/etc/${name}`);
      etc.push(name);
    } catch {
      // Not on this host.
    }
  }
  return { topLevel, etc, etcMirror: null };
}
