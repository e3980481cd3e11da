// A port something else holds: the real command exits 1 at once with a hint
// naming its own flag for that listener (`server --http`, not `--listen`),
// and `berth server` ends rather than idling on what it had opened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBerth } from '../helpers/berth-process.ts';

test('a busy port names the flag of the command that was run', { timeout: 240_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-listen-flag-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const busy = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
  const server = (flags: string[]) => ['server', '--state', join(root, 'state'), '--sandbox', 'off', '--no-acme', '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', ...flags];

  const cases: Array<{ args: string[]; flag: string }> = [
    { args: server(['--http', busy]), flag: '--http' },
    { args: server(['--http', busy, '--workers', '2']), flag: '--http' },
    { args: server(['--api', busy]), flag: '--api' },
    { args: server(['--https', busy, '--workers', '2']), flag: '--https' },
    { args: server(['--ssh', busy]), flag: '--ssh' },
    { args: server(['--dashboard', busy]), flag: '--dashboard' },
    { args: ['file-server', '--root', root, '--listen', busy, '--workers', '1'], flag: '--listen' },
    { args: ['reverse-proxy', '--from', busy, '--to', '127.0.0.1:9', '--workers', '2'], flag: '--from' },
  ];
  for (const { args, flag } of cases) {
    const run = await runBerth(args, { timeoutMs: 60_000 });
    assert.equal(run.code, 1, `berth ${args.join(' ')} (killed after 60 s if it idles):\n${run.output}`);
    assert.match(run.output, new RegExp(`berth: cannot listen (for SSH )?on ${busy.replace(/\./g, '\\.')}: EADDRINUSE \\[BERTH_E_LISTEN\\]`));
    assert.ok(run.output.includes(`hint: Another program uses that port; pick another with ${flag}.\n`), `berth ${args.join(' ')}:\n${run.output}`);
  }
});
