// `node --test test/edge/http1/` passes this folder to node as a single
// entry point, which node resolves to this index.js. It loads every test
// file beside it, so that command runs the whole http1 suite.
// (`node --test "test/edge/http1/*.test.ts"` runs the same files directly.)
import { readdirSync } from 'node:fs';

for (const file of readdirSync(import.meta.dirname).filter((f) => f.endsWith('.test.ts')).sort()) {
  await import(`./${file}`);
}
