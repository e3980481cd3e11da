import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeControls } from '../src/terminal-text.ts';

/** The characters a terminal must never receive from someone else's text. */
function unsafe(code: number): boolean {
  if (code < 0x20 && code !== 0x09) return true;
  if (code >= 0x7f && code <= 0x9f) return true;
  if (code === 0x2028 || code === 0x2029) return true;
  if (code === 0x200c || code === 0x200d) return false;
  return /^\p{Cf}$/u.test(String.fromCodePoint(code));
}

test('every code point: unsafe ones become an escape of printable ASCII, the rest pass unchanged', () => {
  let escaped = 0;
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue; // not characters on their own
    const char = String.fromCodePoint(code);
    const out = escapeControls(char);
    if (unsafe(code)) {
      escaped++;
      assert.match(out, /^\\[\x20-\x7e]+$/, `U+${code.toString(16)}`);
    } else assert.equal(out, char, `U+${code.toString(16)}`);
  }
  // C0 but tab (31), DEL and C1 (33), the two separators, and the format characters.
  assert.ok(escaped > 31 + 33 + 2 + 100, String(escaped));
});

test('C0: named escapes for LF, CR and (in cells) tab, \\xNN for the rest; tab kept by default', () => {
  assert.equal(escapeControls('a\tb'), 'a\tb');
  assert.equal(escapeControls('a\tb', { keepTabs: false }), 'a\\tb');
  assert.equal(escapeControls('a\nb'), 'a\\nb');
  assert.equal(escapeControls('a\rb'), 'a\\rb');
  assert.equal(escapeControls('\u0000\u0007\u0008\u001b\u001f'), '\\x00\\x07\\x08\\x1b\\x1f');
});

test('ESC sequences are defused by their ESC: screen clear, title, OSC 52 clipboard, colours, cursor moves', () => {
  const cases: Array<[string, string]> = [
    ['\u001b[2J\u001b[H', '\\x1b[2J\\x1b[H'],
    ['\u001b]0;pwned\u0007', '\\x1b]0;pwned\\x07'],
    ['\u001b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\u001b\\', '\\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\x1b\\'],
    ['\u001b[31mred\u001b[0m', '\\x1b[31mred\\x1b[0m'],
    ['\u001bP1$r\u001b\\', '\\x1bP1$r\\x1b\\'],
    ['\u009b2J', '\\u009b2J'],
    ['\u009d0;title\u009c', '\\u009d0;title\\u009c'],
  ];
  for (const [raw, shown] of cases) assert.equal(escapeControls(raw), shown);
});

test('a lone CR cannot overwrite the line; with newlines kept, only CR LF and LF stay', () => {
  assert.equal(escapeControls('ok\r12:00:00 berth | deployed'), 'ok\\r12:00:00 berth | deployed');
  assert.equal(escapeControls('a\r\nb\nc\rd', { keepNewlines: true }), 'a\r\nb\nc\\rd');
  assert.equal(escapeControls('end\r', { keepNewlines: true }), 'end\\r');
  assert.equal(escapeControls('a\r\nb'), 'a\\r\\nb');
});

test('bidi controls, separators and invisible format characters are shown', () => {
  assert.equal(escapeControls('invoice\u202efdp.exe'), 'invoice\\u202efdp.exe');
  for (const code of [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200b, 0x2060, 0xfeff, 0x00ad, 0x2028, 0x2029]) {
    assert.equal(escapeControls(String.fromCharCode(code)), `\\u${code.toString(16).padStart(4, '0')}`);
  }
  assert.equal(escapeControls('\u{e0041}'), '\\udb40\\udc41', 'a tag character as its UTF-16 pair');
});

test('DEL and C1 controls are \\uNNNN', () => {
  assert.equal(escapeControls('\u007f\u0080\u0085\u009f'), '\\u007f\\u0080\\u0085\\u009f');
});

test('ordinary text of every script, emoji with joiners, and backslashes pass unchanged', () => {
  for (const text of ['héllo wörld', 'שלום', 'مرحبا', '日本語', '👩‍👩‍👧', 'क्‍ष', 'C:\\path\\x1b', '', '   ']) assert.equal(escapeControls(text), text);
});

test('escaping JSON text keeps it JSON with the same value', () => {
  const value = { line: 'a\u001b[2J\u009b\u202e\u2028\u{e0041}\r\n\t"\\ é', n: 1 };
  const json = JSON.stringify(value);
  const escaped = escapeControls(json);
  assert.deepEqual(JSON.parse(escaped), value);
  assert.doesNotMatch(escaped, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/u);
});
