import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes JSON atomically: a temp file beside the target, fsync, rename. A failed run never leaves half a file. */
export async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  const file = await open(temp, 'w');
  try {
    await file.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
}
