import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripMount } from '../../../src/edge/static/mount.ts';

const CASES: Array<[string, string, string | null]> = [
  ['/static', '/static/css/a.css?x', '/css/a.css?x'],
  ['/static', '/static/css/a.css', '/css/a.css'],
  ['/static', '/static', '/'],
  ['/static', '/static/', '/'],
  ['/static', '/static?x=1', '/?x=1'],
  ['/static', '/static/?x=1', '/?x=1'],
  ['/static', '/staticfoo', null],
  ['/static', '/staticfoo/a', null],
  ['/static', '/stat', null],
  ['/static', '/', null],
  ['/static', '/other/static/a', null],
  ['/static', '/Static/a', null], // paths are case-sensitive
  ['/static', '/static%2Fa', null], // an encoded slash is not a boundary
  ['/static', '/static%2F..%2Fsecret', null],
  ['/static', '/static/..%2f', '/..%2f'], // passed on raw; the site refuses it
  ['/static', '/static//a', '//a'],
  ['/static/', '/static/a', '/a'],
  ['/static/', '/static', '/'],
  ['/a/b', '/a/b/c', '/c'],
  ['/a/b', '/a/bc', null],
  ['/a/b', '/a', null],
  ['/', '/anything?x', '/anything?x'],
  ['', '/anything', '/anything'],
  ['/', '*', null],
  ['static', '/static/a', null], // a prefix must be a path
];

for (const [prefix, target, expected] of CASES) {
  test(`stripMount(${JSON.stringify(prefix)}, ${JSON.stringify(target)}) is ${JSON.stringify(expected)}`, () => {
    assert.equal(stripMount(prefix, target), expected);
  });
}
