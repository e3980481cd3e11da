import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCookie, SESSION_COOKIE, sessionAlive, sessionCookie, SessionStore } from '../../src/dashboard/index.ts';

function store(limits = {}) {
  let now = 1_000_000;
  let counter = 0;
  const sessions = new SessionStore({ now: () => now, random: (size) => Buffer.alloc(size, ++counter), limits });
  return { sessions, advance: (ms: number) => (now += ms) };
}

test('a session has its own random id and CSRF token, and the name of the token that logged in', () => {
  const { sessions } = store();
  const a = sessions.create('admin');
  const b = sessions.create('ci');
  assert.notEqual(a.id, b.id);
  assert.notEqual(a.id, a.csrf);
  assert.equal(a.id.length, 43); // 32 bytes, base64url
  assert.equal(sessions.get(a.id)?.actor, 'admin');
  assert.equal(sessions.get('unknown'), null);
  assert.equal(sessions.get(null), null);
  assert.equal(sessions.get(''), null);
});

test('a session ends when idle too long, and at its maximum age however busy', () => {
  const { sessions, advance } = store({ idleMs: 1_000, maxAgeMs: 5_000 });
  const idle = sessions.create('admin');
  advance(999);
  assert.notEqual(sessions.get(idle.id), null, 'used just in time');
  advance(999);
  assert.notEqual(sessions.get(idle.id), null, 'each use restarts the idle clock');
  advance(1_000);
  assert.equal(sessions.get(idle.id), null);
  assert.equal(sessions.size, 0, 'an expired session is forgotten');

  const busy = sessions.create('admin');
  // Used every 0.9 s: alive at 0.9 … 4.5 s, gone at 5.4 s.
  for (let i = 0; i < 5; i++) {
    advance(900);
    assert.notEqual(sessions.get(busy.id), null);
  }
  advance(900);
  assert.equal(sessions.get(busy.id), null, 'past the maximum age');
});

test('peek does not count as use', () => {
  const { sessions, advance } = store({ idleMs: 1_000 });
  const session = sessions.create('admin');
  advance(600);
  assert.notEqual(sessions.peek(session.id), null);
  advance(600);
  assert.equal(sessions.peek(session.id), null);
});

test('logout and a revoked token end sessions; past the limit the least recently used goes', () => {
  const { sessions } = store({ maxSessions: 2 });
  const a = sessions.create('admin');
  const b = sessions.create('ci');
  sessions.get(a.id); // a is now the most recently used
  const c = sessions.create('admin');
  assert.equal(sessions.get(b.id), null);
  assert.notEqual(sessions.get(a.id), null);
  sessions.endFor('admin');
  assert.equal(sessions.get(a.id), null);
  assert.equal(sessions.get(c.id), null);
  const d = sessions.create('ci');
  sessions.destroy(d.id);
  assert.equal(sessions.get(d.id), null);
});

test('sessionAlive refuses a clock that went backwards past the login', () => {
  const limits = { idleMs: 1_000, maxAgeMs: 5_000, maxSessions: 1 };
  assert.equal(sessionAlive({ createdAt: 100, lastSeenAt: 100 }, 50, limits), false);
  assert.equal(sessionAlive({ createdAt: 100, lastSeenAt: 100 }, 500, limits), true);
});

test('the cookie is HttpOnly, SameSite=Strict, for the whole site, Secure over HTTPS; logout clears it', () => {
  assert.equal(sessionCookie('abc', { secure: false, maxAgeMs: 3_600_000 }), 'berth_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600');
  assert.equal(sessionCookie('abc', { secure: true, maxAgeMs: 3_600_000 }), 'berth_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600; Secure');
  assert.equal(sessionCookie(null, { secure: false, maxAgeMs: 3_600_000 }), 'berth_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
});

test('readCookie finds one cookie among others', () => {
  assert.equal(readCookie(`theme=dark; ${SESSION_COOKIE}=xyz; other=1`, SESSION_COOKIE), 'xyz');
  assert.equal(readCookie('theme=dark', SESSION_COOKIE), null);
  assert.equal(readCookie(undefined, SESSION_COOKIE), null);
  assert.equal(readCookie(`x${SESSION_COOKIE}=no`, SESSION_COOKIE), null);
});
