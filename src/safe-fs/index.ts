// Privileged file work on trees other users own (apps' folders): reads that
// stay inside a folder, trees given away whole, folders ensured without
// following links, trees removed without being redirected. docs/ARCHITECTURE.md
// ("Privileged file operations") lists every such operation and why it holds.
export { readConfined, readConfinedText, kindConfined, CONFINED_READ_MAX_BYTES, type ConfinedKind } from './confined-read.ts';
export { removeTree } from './remove-tree.ts';
export { giveTree, type Owner } from './give-tree.ts';
export { ensureDirectory } from './owned-dir.ts';
export { trustedFolder, trustedEntry } from './safe-path.ts';
