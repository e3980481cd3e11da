import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandToArgv } from '../../src/build/index.ts';

const env = { PORT: '5000', NAME: 'a b', EMPTY: '' };

test('variables expand without word-splitting or re-evaluation', () => {
  assert.deepEqual(commandToArgv('gunicorn --bind 127.0.0.1:$PORT app:app', env), ['gunicorn', '--bind', '127.0.0.1:5000', 'app:app']);
  assert.deepEqual(commandToArgv('echo ${NAME}', env), ['echo', 'a b']);
  assert.deepEqual(commandToArgv('echo "$NAME" \'$PORT\'', env), ['echo', 'a b', '$PORT']);
});

test('a variable whose value looks like shell code stays a plain argument', () => {
  assert.deepEqual(commandToArgv('echo $X', { X: '$(rm -rf /); `id` && reboot' }), ['echo', '$(rm -rf /); `id` && reboot']);
});

test('unset variables expand to nothing, as in a shell', () => {
  assert.deepEqual(commandToArgv('node server.js $MISSING', env), ['node', 'server.js']);
});

test('a trailing comment is ignored', () => {
  assert.deepEqual(commandToArgv('node server.js # the web process', env), ['node', 'server.js']);
});

for (const command of ['node a.js | tee log', 'a && b', 'a; b', 'a > out', 'a < in', 'node *.js', 'a &', '(a)']) {
  test(`shell syntax is refused: ${command}`, () => {
    assert.throws(() => commandToArgv(command, env), /needs a shell/);
  });
}

test('an empty command is refused', () => {
  assert.throws(() => commandToArgv('$EMPTY', env), /empty/);
});
