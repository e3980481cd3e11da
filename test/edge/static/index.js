// Since Node 21, `node --test <folder>` no longer searches the folder: it
// runs the folder as a module, which loads this index.js. So this file makes
// `node --test test/edge/static/` run every test file here (in one process).
// `npm test` matches *.test.ts directly and does not come through here.

import { readdirSync } from 'node:fs';

for (const name of readdirSync(import.meta.dirname).filter((n) => n.endsWith('.test.ts')).sort()) {
  await import(`./${name}`);
}
