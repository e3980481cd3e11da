// berth run through the real CLI against a real daemon as root with
// --sandbox required and a real app: exit status, environment, stdin, a
// pseudo-terminal, Ctrl-C both ways, --detach, a dropped client, refusals.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, MAIN, REPO } from '../helpers/berth-process.ts';
import { startDaemon } from '../helpers/daemon.ts';
import { run as runProgram, sshCommand, sshKeygen } from '../git/git-helpers.ts';

const WEB = `
import { createServer } from 'node:http';
createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`;

const TTY_PY = `
import os, sys
print("tty", os.isatty(0), os.isatty(1), os.get_terminal_size(1).lines, os.get_terminal_size(1).columns, os.environ.get("TERM"), os.environ.get("DYNO"), flush=True)
sys.exit(4)
`;

const TRAP_PY = `
import signal, sys, time
def interrupted(*_):
    print("got SIGINT", flush=True)
    sys.exit(42)
signal.signal(signal.SIGINT, interrupted)
print("ready", flush=True)
time.sleep(120)
sys.exit(1)
`;

interface Cli {
  readonly child: ReturnType<typeof spawn>;
  output(): string;
  readonly exited: Promise<number | null>;
}

/** The CLI with a pipe on its stdin (BerthProcess gives it /dev/null). */
function cli(args: readonly string[], env: Record<string, string>, argv0: readonly string[] = [process.execPath, MAIN]): Cli {
  const child = spawn(argv0[0]!, [...argv0.slice(1), ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => (clearTimeout(timer), resolve(code))));
  return { child, output: () => output, exited };
}

async function finished(run: Cli): Promise<{ code: number | null; output: string }> {
  const code = await run.exited;
  return { code, output: run.output() };
}

test('berth run: exit status, DYNO and config, stdin, a pseudo-terminal, Ctrl-C, --detach, a dropped client, refusals; the same over SSH', { timeout: 300_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-run-'));
  const d = await startDaemon(join(root, 'state'), 1, ['--sandbox', 'required', '--ssh', '127.0.0.1:0']);
  t.after(() => d.berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const env = { BERTH_SERVER: d.api, BERTH_TOKEN: d.token };
  const berth = (...args: string[]) => finished(cli(args, env));

  assert.equal((await berth('apps', 'create', 'shop')).code, 0);
  const none = await berth('run', '--app', 'shop', '--', 'true');
  assert.equal(none.code, 1, none.output);
  assert.match(none.output, /shop has no release yet.*\[BERTH_E_NO_RELEASE\]\nhint: Deploy it first/);
  const unknown = await berth('run', '--app', 'nope', '--', 'true');
  assert.equal(unknown.code, 1);
  assert.match(unknown.output, /BERTH_E_APP_NOT_FOUND/);
  const empty = await berth('run', '--app', 'shop', '--');
  assert.equal(empty.code, 2, 'no command: a usage error');

  const app = join(root, 'app');
  await mkdir(app);
  await writeFile(join(app, 'server.mjs'), WEB);
  await writeFile(join(app, 'tty.py'), TTY_PY);
  await writeFile(join(app, 'trap.py'), TRAP_PY);
  await writeFile(join(app, 'Procfile'), 'web: node server.mjs\n');
  assert.equal((await berth('config', 'set', 'GREETING=hello', '--app', 'shop')).code, 0);
  const deployed = await berth('deploy', app, '--app', 'shop');
  assert.equal(deployed.code, 0, deployed.output);

  // Exit status; the release's config and DYNO=run.N; the app's user (never root), in its sandbox.
  const status = await berth('run', '--app', 'shop', '--', 'sh', '-c', 'echo "$DYNO $GREETING $(id -u) $(cat /proc/self/status | grep -c ^NoNewPrivs:.1)"; exit 7');
  assert.equal(status.code, 7, status.output);
  const [, dyno, greeting, uid, noNewPrivs] = /^(run\.\d+) (\S+) (\d+) (\d)$/m.exec(status.output) ?? [];
  assert.match(dyno ?? '', /^run\.\d+$/, status.output);
  assert.equal(greeting, 'hello');
  assert.notEqual(uid, '0');
  assert.equal(noNewPrivs, '1');

  // Standard input, piped through both ways; stdout and stderr kept apart.
  const piped = cli(['run', '--app', 'shop', '--', 'python3', '-c', 'import sys; data = sys.stdin.read(); print(data.upper(), end=""); print("to stderr", file=sys.stderr)'], env);
  let stdout = '';
  piped.child.stdout!.on('data', (chunk: string) => (stdout += chunk));
  piped.child.stdin!.end('line one\nline two\n');
  const pipedEnd = await finished(piped);
  assert.equal(pipedEnd.code, 0, pipedEnd.output);
  assert.equal(stdout, 'LINE ONE\nLINE TWO\n');
  assert.match(pipedEnd.output, /to stderr/);

  // A pseudo-terminal when the CLI has one (script gives it one here, 30×91): isatty on both ends, the size, TERM.
  const tty = await finished(cli([], { ...env, TERM: 'xterm-256color' }, ['/usr/bin/script', '-q', '-e', '-c', `stty rows 30 cols 91; exec ${process.execPath} ${MAIN} run --app shop -- python3 tty.py`, '/dev/null']));
  assert.equal(tty.code, 4, tty.output);
  assert.match(tty.output, /tty True True 30 91 xterm-256color run\.\d+/);
  // --no-tty: no terminal even from one.
  const noTty = await finished(cli([], env, ['/usr/bin/script', '-q', '-e', '-c', `exec ${process.execPath} ${MAIN} run --no-tty --app shop -- python3 -c 'import os; print("tty", os.isatty(0), os.isatty(1))'`, '/dev/null']));
  assert.match(noTty.output, /tty False False/, noTty.output);

  // Ctrl-C at the terminal: the key goes to the remote terminal, which makes it the command's SIGINT.
  const ttyTrap = cli([], env, ['/usr/bin/script', '-q', '-e', '-c', `exec ${process.execPath} ${MAIN} run --app shop -- python3 trap.py`, '/dev/null']);
  await eventually('the command is ready', () => ttyTrap.output().includes('ready'), 60_000);
  ttyTrap.child.stdin!.write('\x03');
  const ttyTrapEnd = await finished(ttyTrap);
  assert.equal(ttyTrapEnd.code, 42, ttyTrapEnd.output);
  assert.match(ttyTrapEnd.output, /got SIGINT/);

  // Ctrl-C without a terminal: the CLI's SIGINT is sent on; the CLI exits with the command's status.
  const trap = cli(['run', '--app', 'shop', '--', 'python3', 'trap.py'], env);
  await eventually('the command is ready', () => trap.output().includes('ready'), 60_000);
  trap.child.kill('SIGINT');
  const trapEnd = await finished(trap);
  assert.equal(trapEnd.code, 42, trapEnd.output);
  assert.match(trapEnd.output, /got SIGINT/);
  const sleeper = cli(['run', '--app', 'shop', '--', 'sh', '-c', 'echo ready; exec sleep 120'], env);
  await eventually('the command is ready', () => sleeper.output().includes('ready'), 60_000);
  sleeper.child.kill('SIGINT');
  assert.equal((await finished(sleeper)).code, 130, 'killed by SIGINT: 128 + 2, as a shell says');

  // --detach: returns at once; the output is in the app's log as run.N; listed by ps while it runs; stopped by berth stop.
  const detached = await berth('run', '--detach', '--app', 'shop', '--', 'sh', '-c', 'echo "detached $DYNO $GREETING"; exec sleep 120');
  assert.equal(detached.code, 0, detached.output);
  const name = /^(run\.\d+) started in shop, detached/m.exec(detached.output)?.[1];
  assert.ok(name, detached.output);
  await eventually('the output is in berth logs', async () => (await berth('logs', '--app', 'shop', '--process', name)).output.includes(`detached ${name} hello`), 30_000);
  const ps = JSON.parse((await berth('ps', '--app', 'shop', '--json')).output) as { instances: Array<{ name: string; state: string; memory: { limitBytes: number } | null }> };
  const listed = ps.instances.find((instance) => instance.name === name);
  assert.equal(listed?.state, 'running');
  assert.equal(listed?.memory?.limitBytes, 512 * 1024 * 1024, "the app's limits (--default-memory)");
  const stopped = await berth('stop', name, '--app', 'shop');
  assert.equal(stopped.code, 0, stopped.output);
  assert.match(stopped.output, new RegExp(`stopped ${name.replace('.', '\\.')} of shop: ended by SIGTERM`));
  assert.match((await berth('stop', name, '--app', 'shop')).output, /BERTH_E_RUN_NOT_FOUND/);

  // --size: the run's memory limit.
  const sized = cli(['run', '--size', '64m', '--app', 'shop', '--', 'sh', '-c', 'echo ready; exec sleep 120'], env);
  await eventually('the sized run is ready', () => sized.output().includes('ready'), 60_000);
  const sizedPs = JSON.parse((await berth('ps', '--app', 'shop', '--json')).output) as typeof ps;
  assert.deepEqual(sizedPs.instances.filter((instance) => instance.name.startsWith('run.')).map((instance) => instance.memory?.limitBytes), [64 * 1024 * 1024]);

  // A dropped client ends its run (SIGHUP), unlike --detach.
  sized.child.kill('SIGKILL');
  await sized.exited;
  await eventually('the run is gone', async () => !(await berth('ps', '--app', 'shop')).output.includes('run.'), 30_000);
  assert.match((await berth('logs', '--app', 'shop', '-n', '5')).output, /run\.\d+ \| ended by SIGHUP/);

  // Over SSH, with a key the test registers: `ssh HOST run APP -- COMMAND`.
  const sshPort = Number((await d.berth.waitFor(/ssh listening on 127\.0\.0\.1:(\d+)/))[1]);
  const key = await sshKeygen(join(root, 'keys', 'laptop'), 'laptop@test');
  assert.equal((await berth('keys', 'add', `${key}.pub`, '--name', 'laptop')).code, 0);
  const ssh = [...sshCommand(key, sshPort), 'berth@127.0.0.1'];
  const overSsh = await runProgram(ssh[0]!, [...ssh.slice(1), 'run', 'shop', '--', 'sh', '-c', `'echo "$DYNO $GREETING $(id -u)"; exit 6'`]);
  assert.equal(overSsh.code, 6, overSsh.output);
  assert.match(overSsh.stdout, /^run\.\d+ hello [1-9]\d*$/m);
  const sshStdin = await runProgram(ssh[0]!, [...ssh.slice(1), 'run', 'shop', '--', 'tr', 'a-z', 'A-Z'], { input: 'over ssh\n' });
  assert.equal(sshStdin.stdout, 'OVER SSH\n', sshStdin.output);
  const sshShell = await runProgram(ssh[0]!, [...ssh.slice(1), 'run', 'shop', '--', 'echo', 'a;', 'id']);
  assert.equal(sshShell.code, 1);
  assert.match(sshShell.stderr, /uses ";", which needs a shell.*\[BERTH_E_USAGE\]/);
  const sshNone = await runProgram(ssh[0]!, [...ssh.slice(1), 'run', 'nope', '--', 'true']);
  assert.match(sshNone.stderr, /BERTH_E_APP_NOT_FOUND/);
  // ssh -t: a pseudo-terminal of the client's size.
  const sshTty = await finished(cli([], env, ['/usr/bin/script', '-q', '-e', '-c', `stty rows 25 cols 77; exec ${ssh.join(' ')} -tt run shop -- python3 tty.py`, '/dev/null']));
  assert.equal(sshTty.code, 4, sshTty.output);
  assert.match(sshTty.output, /tty True True 25 77 \S+ run\.\d+/);
  // A key nobody registered runs nothing.
  const stranger = await sshKeygen(join(root, 'keys', 'stranger'), 'stranger@test');
  const refusedKey = await runProgram('ssh', [...sshCommand(stranger, sshPort).slice(1), 'berth@127.0.0.1', 'run', 'shop', '--', 'id']);
  assert.notEqual(refusedKey.code, 0);
  assert.match(refusedKey.stderr, /Permission denied \(publickey\)/);
  // A dropped SSH connection ends its run too.
  const sshSleeper = cli([], env, [ssh[0]!, ...ssh.slice(1), 'run', 'shop', '--', 'sh', '-c', "'echo ready; exec sleep 120'"]);
  await eventually('the run over SSH is ready', () => sshSleeper.output().includes('ready'), 60_000);
  sshSleeper.child.kill('SIGKILL');
  await sshSleeper.exited;
  await eventually('the SSH run is gone', async () => !(await berth('ps', '--app', 'shop')).output.includes('run.'), 30_000);

  // Every run is audited (read once the daemon has stopped and let go of its database).
  await d.berth.kill();
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(join(root, 'state', 'berth.db'), { readOnly: true });
  const rows = db.prepare("SELECT actor, action, result, detail_json FROM audit WHERE target = 'shop' AND action LIKE 'run%' ORDER BY id").all() as Array<{ actor: string; action: string; result: string; detail_json: string }>;
  db.close();
  const started = rows.filter((row) => row.action === 'run').map((row) => JSON.parse(row.detail_json) as { dyno: string; argv: string[] });
  assert.ok(started.length >= 9, JSON.stringify(rows));
  assert.deepEqual(started.find((row) => row.dyno === name)?.argv, ['sh', '-c', 'echo "detached $DYNO $GREETING"; exec sleep 120']);
  assert.deepEqual([...new Set(rows.map((row) => row.actor))], ['admin', 'ssh:laptop']);
  assert.ok(rows.some((row) => row.action === 'run.exit' && JSON.parse(row.detail_json).exitCode === 7));
  assert.ok(rows.some((row) => row.action === 'run.stop' && JSON.parse(row.detail_json).dyno === name));
});
