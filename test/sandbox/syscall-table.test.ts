// The committed system call table against the kernel headers it was
// generated from. On x86_64 and arm64 the headers must be there (Debian's
// linux-libc-dev): a machine without them fails here rather than skipping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { SYSCALL_NUMBERS } from '../../src/sandbox/syscall-table.ts';
import { ASM_GENERIC_UNISTD, parseUnistd, renderSyscallTable, SYSCALL_TABLE_NAMES, X86_64_UNISTD } from './syscall-headers.ts';

const required = process.arch === 'x64' ? [X86_64_UNISTD, ASM_GENERIC_UNISTD] : process.arch === 'arm64' ? [ASM_GENERIC_UNISTD] : [];

test('the kernel headers the table is checked against are installed (linux-libc-dev)', () => {
  for (const header of required) assert.ok(existsSync(header), `${header} is missing: apt-get install linux-libc-dev`);
});

test('every number in the table is the one the kernel headers define (null: the architecture has no such call)', () => {
  const headers = [
    { arch: 'x64', path: X86_64_UNISTD },
    { arch: 'arm64', path: ASM_GENERIC_UNISTD },
  ] as const;
  let checked = 0;
  for (const { arch, path } of headers) {
    if (!existsSync(path)) {
      assert.ok(!required.includes(path), `${path} is missing`);
      continue;
    }
    const numbers = parseUnistd(readFileSync(path, 'utf8'));
    assert.ok(numbers.size > 300, `${path}: only ${numbers.size} system calls parsed`);
    for (const [name, row] of Object.entries(SYSCALL_NUMBERS)) assert.equal(row[arch], numbers.get(name) ?? null, `${arch} ${name}`);
    checked++;
  }
  assert.ok(checked >= required.length);
  if (existsSync(X86_64_UNISTD) && existsSync(ASM_GENERIC_UNISTD)) {
    const committed = readFileSync(new URL('../../src/sandbox/syscall-table.ts', import.meta.url), 'utf8');
    assert.equal(committed, renderSyscallTable(readFileSync(X86_64_UNISTD, 'utf8'), readFileSync(ASM_GENERIC_UNISTD, 'utf8')), 'regenerate: node test/sandbox/syscall-headers.ts > src/sandbox/syscall-table.ts');
  }
});

test('the table holds exactly the generator’s names', () => {
  assert.deepEqual(Object.keys(SYSCALL_NUMBERS), [...SYSCALL_TABLE_NAMES]);
});

test('the header parser reads plain numeric defines and refuses a name defined twice differently', () => {
  const numbers = parseUnistd('#define __NR_read 0\n#define __NR_fcntl64 __NR3264_fcntl\n#define __NR_syscalls 451\n  #define __NR_indented 3\n#define __NR_write 1\n');
  assert.deepEqual([...numbers], [['read', 0], ['write', 1]]);
  assert.throws(() => parseUnistd('#define __NR_read 0\n#define __NR_read 1\n'), /defined twice/);
});
