// `berth up` as root contains the app as `berth server` does: what works
// under `up` works in production. The app runs as its folder's owner
// (nobody when root owns it), never as root; its folder is read-only, its
// HOME its own, its processes alone in their namespace, the host's secrets
// absent. A folder the app's user could not read is run uncontained, and
// that is said once; --sandbox required refuses it instead.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, runBerth } from '../helpers/berth-process.ts';

const PROBE = `
import { createServer } from 'node:http';
import { readdirSync, writeFileSync, readFileSync } from 'node:fs';
const attempt = (fn) => { try { fn(); return 'ok'; } catch (err) { return err.code; } };
createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    uid: process.getuid(),
    pid: process.pid,
    processes: readdirSync('/proc').filter((name) => /^\\d+$/.test(name)).length,
    writeOwnFolder: attempt(() => writeFileSync(new URL('./written', import.meta.url), 'x')),
    writeHome: attempt(() => writeFileSync(process.env.HOME + '/written', 'x')),
    readRootHome: attempt(() => readdirSync('/root')),
    readShadow: attempt(() => readFileSync('/etc/shadow')),
  }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

async function appFolder(t: { after: (fn: () => Promise<void>) => void }, mode: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-up-sandbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'server.mjs'), PROBE);
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\n');
  await chmod(dir, mode);
  return dir;
}

test('berth up as root runs the app contained: as nobody, its folder read-only, HOME its own, alone in its processes, the host hidden', { timeout: 120_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this attack runs as root, as berth server does');
  const dir = await appFolder(t, 0o755);
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  const url = await berth.url();
  await berth.waitFor(/web\.1 ready/);
  assert.match(berth.output, /the app runs contained, as uid 65534/);
  const seen = (await (await fetch(`${url}/`)).json()) as Record<string, unknown>;
  assert.equal(seen.uid, 65_534, 'never root');
  assert.ok((seen.pid as number) < 10, `its own pid namespace (pid ${seen.pid})`);
  assert.ok((seen.processes as number) < 10, `it sees ${seen.processes} processes`);
  assert.equal(seen.writeOwnFolder, 'EROFS');
  assert.equal(seen.writeHome, 'ok');
  assert.ok(['ENOENT', 'EACCES'].includes(seen.readRootHome as string), `/root: ${seen.readRootHome}`);
  assert.ok(['ENOENT', 'EACCES'].includes(seen.readShadow as string), `/etc/shadow: ${seen.readShadow}`);
  const { code } = await berth.stop('SIGTERM');
  assert.equal(code, 0);
});

test('a folder the app’s user cannot read runs uncontained, said once; --sandbox required refuses it', { timeout: 120_000 }, async (t) => {
  const dir = await appFolder(t, 0o700);
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  await berth.url();
  await berth.waitFor(/web\.1 ready/);
  const said = berth.output.match(/the app runs uncontained: [^\n]*/g) ?? [];
  assert.equal(said.length, 1, berth.output);
  assert.match(said[0]!, /is closed to uid 65534.*chmod o\+rx/);
  await berth.stop('SIGTERM');

  const refused = await runBerth(['up', dir, '--listen', '127.0.0.1:0', '--sandbox', 'required'], { timeoutMs: 60_000 });
  assert.notEqual(refused.code, 0);
  assert.match(refused.output, /the app cannot be contained: .* is closed to uid 65534, .*\[BERTH_E_SANDBOX\]/);
});
