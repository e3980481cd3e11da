import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptsUpgrade, upgradeToOffer } from '../../src/edge/engine/upgrade-policy.ts';

test('upgrades to HTTP itself are never offered to an app; the rest of the list is, in order', () => {
  const cases: Array<[string, string | null]> = [
    ['websocket', 'websocket'],
    ['WebSocket', 'WebSocket'],
    ['h2c', null],
    ['H2C', null],
    ['h2', null],
    ['HTTP/2.0', null],
    ['http/1.1', null],
    ['HTTP/2.0, h2c', null],
    ['h2c, websocket', 'websocket'],
    ['websocket ,h2c,  ', 'websocket'],
    ['websocket, foo/2', 'websocket, foo/2'],
    ['h2c/1, TLS/1.2', 'TLS/1.2'],
    ['', null],
    [' , ,', null],
    ['h2cx', 'h2cx'],
    ['https', 'https'],
  ];
  for (const [requested, offered] of cases) assert.equal(upgradeToOffer(requested), offered, JSON.stringify(requested));
});

test('a 101 opens the tunnel only when it names exactly one protocol that was offered', () => {
  const cases: Array<[string, string | null, boolean]> = [
    ['websocket', 'websocket', true],
    ['websocket', 'WebSocket', true],
    ['websocket, foo/2', 'foo/2', true],
    ['websocket', null, false],
    ['websocket', '', false],
    ['websocket', 'h2c', false],
    ['websocket', 'websocket, h2c', false],
    ['websocket', 'websocket/13', false],
    ['foo/2', 'foo', false],
    ['foo', 'foo/2', false],
  ];
  for (const [offered, answered, accepted] of cases) assert.equal(acceptsUpgrade(offered, answered), accepted, `${offered} → ${answered}`);
});
