import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ptyCommand, PTY_PROGRAM, terminalSize, terminalType } from '../../src/runner/index.ts';

/** Runs `argv` on a pty through script, as a one-off run would (plainly here), with input `input`; its output and exit. */
function runOnPty(argv: readonly string[], env: Record<string, string>, size: { rows: number; cols: number } | null, input: Array<[RegExp, string]> = []): Promise<{ output: string; code: number | null }> {
  const wrapped = ptyCommand(argv, env, size);
  const child = spawn(wrapped.argv[0]!, wrapped.argv.slice(1), { env: wrapped.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  // Each input once the output shows its cue (a key typed before the program listens is lost, as at a real terminal).
  const pending = [...input];
  const onOutput = (chunk: string) => {
    output += chunk;
    while (pending.length > 0 && pending[0]![0].test(output)) child.stdin.write(pending.shift()![1]);
  };
  child.stdout.setEncoding('utf8').on('data', onOutput);
  child.stderr.setEncoding('utf8').on('data', onOutput);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => child.once('close', (code) => (clearTimeout(timer), resolve({ output, code }))));
}

const PATH = process.env.PATH ?? '/usr/bin:/bin';

test('the command gets exactly its argv on a terminal: no word is parsed by the shell script starts', async () => {
  const words = ['$(touch /tmp/berth-pty-injected)', '`id`', "it's", '"quoted"', 'a b', '*', '\\n', 'line\nbreak', '${HOME}', '; exit 3', '', '-c'];
  const { output, code } = await runOnPty(['python3', '-c', 'import json, os, sys; print(json.dumps([sys.argv[1:], os.isatty(0), os.isatty(1), sorted(k for k in os.environ if k.startswith("BERTH_RUN"))]))', ...words], { PATH }, null);
  assert.equal(code, 0, output);
  const line = output.split(/\r?\n/).find((l) => l.startsWith('['));
  assert.deepEqual(JSON.parse(line!), [words, true, true, []]);
});

test('the window size is set on the terminal, TERM and SHELL are as the run had them, and the exit status is the command\'s', async () => {
  const { output, code } = await runOnPty(['sh', '-c', 'stty size; echo "shell=${SHELL-unset}"; exit 9'], { PATH, SHELL: '/bin/bash' }, { rows: 33, cols: 101 });
  assert.equal(code, 9);
  assert.match(output, /^33 101\r?$/m);
  assert.match(output, /shell=\/bin\/bash/);
  const unset = await runOnPty(['sh', '-c', 'echo "shell=${SHELL-unset}"'], { PATH }, null);
  assert.match(unset.output, /shell=unset/);
});

test('input reaches the command through its terminal, and Ctrl-C there is its SIGINT', async () => {
  const { output, code } = await runOnPty(['sh', '-c', 'trap "echo interrupted; exit 42" INT; echo ready; read line; echo "got $line"; while :; do sleep 0.05; done'], { PATH }, null, [[/ready/, 'hello\n'], [/got hello/, '\x03']]);
  assert.equal(code, 42, output);
  assert.match(output, /got hello/);
  assert.match(output, /interrupted/);
});

test('ptyCommand is pure: script by its absolute path, the fixed program, words in numbered variables', () => {
  const wrapped = ptyCommand(['ls', '-l'], { PATH: '/usr/bin', HOME: '/h' }, { rows: 2, cols: 3 });
  assert.deepEqual(wrapped.argv, ['/usr/bin/script', '-q', '-e', '-E', 'auto', '-c', PTY_PROGRAM, '/dev/null']);
  assert.deepEqual(wrapped.env, { PATH: '/usr/bin', HOME: '/h', SHELL: '/bin/sh', BERTH_RUN_ARGC: '2', BERTH_RUN_ARG_0: 'ls', BERTH_RUN_ARG_1: '-l', BERTH_RUN_ROWS: '2', BERTH_RUN_COLS: '3' });
});

test('a client\'s terminal size and type are bounded before they reach stty and TERM', () => {
  assert.deepEqual(terminalSize(24, 80), { rows: 24, cols: 80 });
  for (const [rows, cols] of [[0, 80], [24, 0], [-1, 80], [24.5, 80], ['24', 80], [24, 10_001], [null, null]]) assert.equal(terminalSize(rows, cols), null, `${rows}x${cols}`);
  for (const ok of ['xterm-256color', 'screen.xterm', 'vt100', 'rxvt-unicode+x']) assert.equal(terminalType(ok), ok);
  for (const bad of ['', 'xterm;reboot', 'a b', '-x', 'x'.repeat(65), 3, null, '$(id)']) assert.equal(terminalType(bad), null, String(bad));
});
