import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcesses } from './child-processes.ts';
import { isSameProcessAlive, processTree } from './proc-tree.ts';

// A parent that starts a grandchild ignoring SIGTERM, then ignores SIGTERM itself:
// the worst case for "leave nothing running".
const STUBBORN = `
const { spawn } = require('node:child_process');
spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
process.on('SIGTERM', () => {});
setInterval(() => {}, 1000);
console.log('ready');
`;

test('stop() leaves nothing running, not even a grandchild that ignores SIGTERM', async () => {
  const children = new ChildProcesses();
  const child = children.start({ name: 'stubborn', command: process.execPath, args: ['-e', STUBBORN] });
  let tree = await processTree(child.pid!);
  for (let i = 0; i < 50 && tree.length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    tree = await processTree(child.pid!);
  }
  assert.equal(tree.length, 2);
  await children.stop(child, 300);
  assert.equal(child.exit?.signal, 'SIGKILL');
  for (const stat of tree) assert.equal(await isSameProcessAlive(stat), false, `pid ${stat.pid} still runs`);
});

test('run() returns the output, and rejects on a bad exit or an overrun', async () => {
  const children = new ChildProcesses();
  assert.equal((await children.run({ name: 'echo', command: process.execPath, args: ['-e', 'console.log("hi")'], timeoutMs: 10_000 })).trim(), 'hi');
  await assert.rejects(children.run({ name: 'fails', command: process.execPath, args: ['-e', 'console.error("boom"); process.exit(3)'], timeoutMs: 10_000 }), /fails exited with code 3:\nboom/);
  await assert.rejects(children.run({ name: 'sleeps', command: process.execPath, args: ['-e', 'setTimeout(() => {}, 60000)'], timeoutMs: 300 }), /did not finish within 0.3 s/);
});
