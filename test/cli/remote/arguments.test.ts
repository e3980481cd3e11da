import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseConfigKeys,
  parseConfigPairs,
  parseDeployMessage,
  parseFormation,
  parseLineCount,
  parseProcessArg,
  parseReleaseArg,
} from '../../../src/cli/remote/arguments.ts';

type Coded = Error & { code?: string };
const code = (expected: string) => (err: Coded) => err.code === expected;

test('KEY=VALUE: the key ends at the first "=", so values may hold "=" and may be empty', () => {
  assert.deepEqual(parseConfigPairs(['DATABASE_URL=postgres://u:p@h/db?sslmode=require&a=b', 'EMPTY=', '_X1=a=b=c']), {
    DATABASE_URL: 'postgres://u:p@h/db?sslmode=require&a=b',
    EMPTY: '',
    _X1: 'a=b=c',
  });
  assert.deepEqual(parseConfigPairs(['MULTI=line one\nline two']), { MULTI: 'line one\nline two' });
});

test('config keys follow the server\'s rule: letters, digits and "_", not starting with a digit', () => {
  for (const bad of ['1ABC=x', 'MY-KEY=x', 'A B=x', '=x', 'É=x']) assert.throws(() => parseConfigPairs([bad]), code('BERTH_E_NAME'), bad);
  // berth sets these itself.
  for (const reserved of ['PORT=1', 'BERTH_APP=x']) assert.throws(() => parseConfigPairs([reserved]), code('BERTH_E_NAME'), reserved);
  assert.throws(() => parseConfigPairs(['A=1', 'A=2']), /A is given twice/);
  assert.throws(() => parseConfigPairs([]), code('BERTH_E_USAGE'));
});

test('an argument without "=" is refused, and a value typed without its key is never echoed', () => {
  assert.throws(() => parseConfigPairs(['JUST_A_KEY']), (err: Coded) => err.code === 'BERTH_E_USAGE' && err.message === '"JUST_A_KEY" is not KEY=VALUE');
  for (const secret of ['postgres://user:hunter2@db/x', 'postgres://user:hunter2@db/x?ssl=1']) {
    assert.throws(
      () => parseConfigPairs([secret]),
      (err: Coded & { hint?: string }) => !err.message.includes('hunter2') && !(err.hint ?? '').includes('hunter2'),
    );
  }
});

test('config values are checked like the server does, without showing them', () => {
  assert.throws(() => parseConfigPairs([`BIG=${'x'.repeat(40 * 1024)}`]), (err: Coded) => err.code === 'BERTH_E_CONFIG_VALUE' && !err.message.includes('xxxx'));
});

test('config unset takes keys, drops repeats, refuses KEY=VALUE', () => {
  assert.deepEqual(parseConfigKeys(['A', 'B', 'A']), ['A', 'B']);
  assert.throws(() => parseConfigKeys(['A=1']), /takes keys, not KEY=VALUE/);
  assert.throws(() => parseConfigKeys(['bad-key']), code('BERTH_E_NAME'));
  assert.throws(() => parseConfigKeys([]), code('BERTH_E_USAGE'));
});

test('scale: TYPE=COUNT arguments (or comma-separated), counts 0 to 64', () => {
  assert.deepEqual(parseFormation(['web=3', 'worker=1']), { counts: { web: 3, worker: 1 }, memory: {} });
  assert.deepEqual(parseFormation(['web=0,clock-2=64']), { counts: { web: 0, 'clock-2': 64 }, memory: {} });
  for (const bad of ['web', 'web=', 'web=-1', 'web=65', 'web=1.5', 'web=two', 'web=0x1']) assert.throws(() => parseFormation([bad]), /TYPE=COUNT|not a number of/, bad);
  assert.throws(() => parseFormation(['web=65']), code('BERTH_E_SCALE'));
  assert.throws(() => parseFormation(['we b=1']), code('BERTH_E_NAME'));
  assert.throws(() => parseFormation(['=1']), code('BERTH_E_NAME'));
  assert.throws(() => parseFormation(['web=1', 'web=2']), /web is given twice/);
  assert.throws(() => parseFormation([]), /nothing to scale/);
});

test('scale: TYPE=COUNT:SIZE sets a memory limit, :default clears it, --memory gives one to the types named without one', () => {
  const MIB = 1024 * 1024;
  assert.deepEqual(parseFormation(['web=2:1g', 'worker=1:default']), { counts: { web: 2, worker: 1 }, memory: { web: 1024 * MIB, worker: null } });
  assert.deepEqual(parseFormation(['web=2', 'worker=1:256Mi'], '512m'), { counts: { web: 2, worker: 1 }, memory: { web: 512 * MIB, worker: 256 * MIB } });
  assert.deepEqual(parseFormation(['web=2'], 'default'), { counts: { web: 2 }, memory: { web: null } });
  for (const bad of ['web=2:', 'web=2:lots', 'web=2:1g:2g']) assert.throws(() => parseFormation([bad]), code('BERTH_E_SCALE'), bad);
  assert.throws(() => parseFormation(['web=2'], 'huge'), /--memory: "huge" is not a memory size/);
});

test('rollback targets: v3 or 3, or none for the previous release', () => {
  assert.equal(parseReleaseArg('v3'), 3);
  assert.equal(parseReleaseArg('12'), 12);
  assert.equal(parseReleaseArg(undefined), undefined);
  for (const bad of ['v0', 'x3', 'v-1', 'v1.2', '']) assert.throws(() => parseReleaseArg(bad), code('BERTH_E_NAME'), bad);
});

test('logs: --lines is a positive whole number; --process a process type', () => {
  assert.equal(parseLineCount('200'), 200);
  assert.equal(parseLineCount(undefined), undefined);
  for (const bad of ['0', '-1', 'ten', '1e3', '1234567']) assert.throws(() => parseLineCount(bad), code('BERTH_E_USAGE'), bad);
  assert.equal(parseProcessArg('web'), 'web');
  assert.equal(parseProcessArg(undefined), undefined);
  assert.equal(parseProcessArg('web.1'), 'web.1', 'one instance');
  assert.equal(parseProcessArg('cron.nightly'), 'cron.nightly', 'one cron job');
  assert.throws(() => parseProcessArg('web.'), code('BERTH_E_NAME'));
  assert.throws(() => parseProcessArg('web.1.2'), code('BERTH_E_NAME'));
  assert.throws(() => parseProcessArg('web!'), code('BERTH_E_NAME'));
});

test('deploy messages: one line of printable ASCII, as an HTTP header carries it', () => {
  assert.equal(parseDeployMessage('  Fix the checkout = faster '), 'Fix the checkout = faster');
  assert.equal(parseDeployMessage(''), undefined);
  assert.equal(parseDeployMessage(undefined), undefined);
  for (const bad of ['two\nlines', 'tab\there', 'café']) assert.throws(() => parseDeployMessage(bad), code('BERTH_E_USAGE'), bad);
});
