import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunBody } from '../../src/api/run-routes.ts';
import { isBerthError } from '../../src/errors.ts';

function refused(body: unknown, code: string, message: RegExp): void {
  assert.throws(() => parseRunBody(body), (err: unknown) => isBerthError(err) && err.code === code && message.test(err.message) && err.status === 400, JSON.stringify(body));
}

test('a run request: argv as given, the size in bytes, detach, a bounded terminal', () => {
  assert.deepEqual(parseRunBody({ command: ['python', 'manage.py', 'shell'] }), { argv: ['python', 'manage.py', 'shell'], memoryBytes: null, detach: false, terminal: null });
  assert.deepEqual(parseRunBody({ command: ['sh', '-c', 'echo $HOME; rm -rf /'], size: '1g', detach: true }), { argv: ['sh', '-c', 'echo $HOME; rm -rf /'], memoryBytes: 1024 ** 3, detach: true, terminal: null });
  assert.deepEqual(parseRunBody({ command: ['bash'], terminal: { rows: 40, cols: 120, term: 'xterm-256color' }, size: null }).terminal, { size: { rows: 40, cols: 120 }, type: 'xterm-256color' });
  // What a terminal cannot say (a size of 0, a TERM with a shell's syntax) is dropped, not refused.
  assert.deepEqual(parseRunBody({ command: ['bash'], terminal: { rows: 0, cols: 0, term: 'x;y' } }).terminal, { size: null, type: null });
  assert.equal(parseRunBody({ command: ['true'], terminal: null }).terminal, null);
});

test('a run request without a usable command, with a bad size or with unknown fields is refused', () => {
  refused([], 'BERTH_E_BAD_JSON', /JSON object/);
  refused(null, 'BERTH_E_BAD_JSON', /JSON object/);
  refused({}, 'BERTH_E_USAGE', /needs a "command"/);
  refused({ command: [] }, 'BERTH_E_USAGE', /needs a "command"/);
  refused({ command: 'ls -l' }, 'BERTH_E_USAGE', /array of strings/);
  refused({ command: ['ls', 3] }, 'BERTH_E_USAGE', /array of strings/);
  refused({ command: [''] }, 'BERTH_E_USAGE', /empty word/);
  refused({ command: ['ls', 'a\0b'] }, 'BERTH_E_USAGE', /NUL/);
  refused({ command: Array(4097).fill('x') }, 'BERTH_E_USAGE', /4096 words/);
  refused({ command: ['echo', 'x'.repeat(256 * 1024)] }, 'BERTH_E_USAGE', /256 KiB/);
  refused({ command: ['ls'], size: '1m' }, 'BERTH_E_USAGE', /at least 16m/);
  refused({ command: ['ls'], size: 'lots' }, 'BERTH_E_USAGE', /not a size/);
  refused({ command: ['ls'], size: true }, 'BERTH_E_USAGE', /memory size/);
  refused({ command: ['ls'], detach: 'yes' }, 'BERTH_E_USAGE', /true or false/);
  refused({ command: ['ls'], terminal: 'xterm' }, 'BERTH_E_USAGE', /"terminal"/);
  refused({ command: ['ls'], detach: true, terminal: { rows: 1, cols: 1 } }, 'BERTH_E_USAGE', /no terminal/);
  refused({ command: ['ls'], env: { A: 'b' } }, 'BERTH_E_USAGE', /unknown field "env"/);
});
