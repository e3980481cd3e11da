// `npm test`'s runner: every test file under node's test runner, then a
// check that the run left nothing of its own on the machine (no test user,
// no process of one, no process of a test daemon). A leftover fails the
// run and is listed (what the run found, not what it may remove: another
// suite running on the same machine at the same time looks the same).
// (node --test's --test-global-setup teardown can fail the exit code, but
// its error never shows in the summary: a separate step says what it found.)

import { spawn } from 'node:child_process';
import { describe, newSince, snapshot, type Snapshot } from './helpers/leftovers.ts';

const SETTLE_MS = 15_000;

const before = await snapshot();
const args = ['--test', '--test-concurrency=2', '--test-timeout=300000', ...(process.argv.length > 2 ? process.argv.slice(2) : ['test/**/*.test.ts'])];
const child = spawn(process.execPath, args, { stdio: 'inherit' });
const code: number = await new Promise((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));

// A daemon's last instance or an exit hook's userdel may still be finishing: wait a little, bounded.
let left: Snapshot = newSince(before, await snapshot());
for (const deadline = Date.now() + SETTLE_MS; describe(left).length > 0 && Date.now() < deadline; ) {
  await new Promise((resolve) => setTimeout(resolve, 250));
  left = newSince(before, await snapshot());
}
const found = describe(left);
if (found.length > 0) {
  console.error(`\n✖ the test run left ${found.length} thing(s) behind:`);
  for (const line of found) console.error(`  ${line}`);
  // Only reported, never removed here: on a shared machine another run's daemons look the same.
} else {
  console.log('✔ the test run left no process and no Unix user behind');
}
process.exitCode = code !== 0 ? code : found.length > 0 ? 1 : 0;
