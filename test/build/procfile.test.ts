import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcfile } from '../../src/build/index.ts';
import { BerthError } from '../../src/errors.ts';

test('a Procfile lists process types in order', () => {
  assert.deepEqual(parseProcfile('web: node server.js\nworker: node worker.js --queue=a\n'), [
    { name: 'web', command: 'node server.js' },
    { name: 'worker', command: 'node worker.js --queue=a' },
  ]);
});

test('comments, blank lines, CRLF and extra spaces are tolerated', () => {
  assert.deepEqual(parseProcfile('# processes\r\n\r\n  web :   gunicorn app:app  \r\n'), [{ name: 'web', command: 'gunicorn app:app' }]);
});

test('a command may contain colons', () => {
  assert.deepEqual(parseProcfile('web: gunicorn --bind 127.0.0.1:$PORT wsgi:app'), [{ name: 'web', command: 'gunicorn --bind 127.0.0.1:$PORT wsgi:app' }]);
});

for (const [name, text, pattern] of [
  ['a line without a colon', 'web node server.js', /line 1: expected "name: command"/],
  ['an empty name', ': node x', /line 1/],
  ['a name with spaces', 'my web: node x', /not a valid process type name/],
  ['a name with a dot', 'web.1: node x', /not a valid process type name/],
  ['an empty command', 'web:', /has no command/],
  ['a duplicate type', 'web: a\nweb: b', /line 2: process type "web" is defined twice/],
] as const) {
  test(`a Procfile with ${name} is refused with the line number`, () => {
    assert.throws(() => parseProcfile(text), (err: unknown) => err instanceof BerthError && err.code === 'BERTH_E_PROCFILE' && pattern.test(err.message));
  });
}
