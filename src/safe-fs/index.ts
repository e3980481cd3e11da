// File-system work where others can interfere: opening files in folders an
// app can change (check the descriptor, never the path) and berth's own
// temporary folders (private, unpredictable, made exclusively).

export { isAbsence, lookupPath, openVerified, ownerAllows, type FileRule, type Found } from './open-verified.ts';
export { makePrivateDir, resetPrivateDir } from './private-dir.ts';
