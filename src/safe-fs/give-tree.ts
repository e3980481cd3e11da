import { constants } from 'node:fs';
import { lchown, lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../errors.ts';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Gives a tree berth made (an unpacked upload) to `owner`, children before
 * their folder and the top folder last, with `topMode` on the top. Until
 * that last step the top is berth's and closed to everyone else (checked),
 * so nobody can be inside while the tree changes hands: no entry can be
 * swapped for a link under lchown, and the owner enters a tree that is
 * already all theirs. lchown never follows a link; a link in the tree
 * becomes the owner's link.
 */
export async function giveTree(root: string, owner: Owner, topMode: number): Promise<void> {
  const top = await lstat(root);
  const self = process.getuid?.() ?? 0;
  if (!top.isDirectory() || top.uid !== self || (top.mode & 0o077) !== 0) {
    throw new BerthError('BERTH_E_STATE', `${root} is not a folder closed to other users; berth gives away only trees nobody else can reach`, { status: 500 });
  }
  // Pre-order (a folder, then what is in it), walked with a stack so a deep
  // tree cannot overflow the call stack; reversed, every entry comes after
  // everything below it.
  const order: string[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    order.push(dir);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else order.push(path);
    }
  }
  order.reverse();
  order.pop(); // the top, handled last below
  for (const path of order) await lchown(path, owner.uid, owner.gid);
  const handle = await open(root, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await handle.chmod(topMode);
    await handle.chown(owner.uid, owner.gid);
  } finally {
    await handle.close();
  }
}
