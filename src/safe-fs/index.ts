// File-system work where others can interfere (apps' folders): reads that
// stay inside a folder, opens checked on the descriptor rather than the path,
// trees given away whole, folders ensured without following links, trees
// removed without being redirected, and berth's own private temporary
// folders. docs/ARCHITECTURE.md ("Privileged file operations") lists every
// such operation and why it holds.
export { readConfined, readConfinedText, kindConfined, CONFINED_READ_MAX_BYTES, type ConfinedKind } from './confined-read.ts';
export { removeTree } from './remove-tree.ts';
export { giveTree, type Owner } from './give-tree.ts';
export { ensureDirectory } from './owned-dir.ts';
export { trustedFolder, trustedEntry } from './safe-path.ts';
export { isAbsence, lookupPath, openVerified, ownerAllows, type FileRule, type Found } from './open-verified.ts';
export { makePrivateDir, resetPrivateDir } from './private-dir.ts';
