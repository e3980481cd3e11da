import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogPrinter } from '../../src/cli/log-printer.ts';

function capture(isTTY: boolean) {
  let text = '';
  return { out: { write: (chunk: string) => (text += chunk), isTTY }, text: () => text };
}

test("an instance's output is shown with its control characters escaped; only berth's own colours reach the terminal", () => {
  const saved = process.env.NO_COLOR;
  delete process.env.NO_COLOR;
  try {
    const plain = capture(false);
    new LogPrinter(plain.out).line('web.1', 'a\u001b]52;c;eA==\u0007b\rc\u202ed');
    assert.match(plain.text(), /^\d\d:\d\d:\d\d web\.1  \| a\\x1b\]52;c;eA==\\x07b\\rc\\u202ed\n$/);
    const tty = capture(true);
    new LogPrinter(tty.out).line('web.1', '\u001b[2J');
    assert.match(tty.text(), /^\u001b\[\d+m\d\d:\d\d:\d\d web\.1  \|\u001b\[0m \\x1b\[2J\n$/);
  } finally {
    if (saved !== undefined) process.env.NO_COLOR = saved;
  }
});
