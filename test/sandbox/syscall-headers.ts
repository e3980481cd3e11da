// The kernel's own numbering of system calls, read from the uapi headers
// (Debian's linux-libc-dev): what src/sandbox/syscall-table.ts was generated
// from, and what its test checks it against.
//
// Regenerate the table (after adding a name to SYSCALL_TABLE_NAMES):
//   node test/sandbox/syscall-headers.ts > src/sandbox/syscall-table.ts
import { readFileSync } from 'node:fs';

export const X86_64_UNISTD = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
/** arm64's numbering is asm-generic's (arm64's own asm/unistd.h only turns on a few __ARCH_WANT_ switches none of these names depend on). */
export const ASM_GENERIC_UNISTD = '/usr/include/asm-generic/unistd.h';

/** Every name the seccomp filter (and its tests) refer to, alphabetical. */
export const SYSCALL_TABLE_NAMES = [
  '_sysctl',
  'acct',
  'add_key',
  'adjtimex',
  'bpf',
  'clock_adjtime',
  'clock_settime',
  'clone',
  'clone3',
  'create_module',
  'delete_module',
  'fanotify_init',
  'finit_module',
  'fsconfig',
  'fsmount',
  'fsopen',
  'fspick',
  'get_kernel_syms',
  'get_mempolicy',
  'init_module',
  'io_uring_enter',
  'io_uring_register',
  'io_uring_setup',
  'ioperm',
  'iopl',
  'kcmp',
  'kexec_file_load',
  'kexec_load',
  'keyctl',
  'lookup_dcookie',
  'mbind',
  'migrate_pages',
  'mount',
  'mount_setattr',
  'move_mount',
  'move_pages',
  'name_to_handle_at',
  'nfsservctl',
  'open_by_handle_at',
  'open_tree',
  'perf_event_open',
  'personality',
  'pidfd_getfd',
  'pivot_root',
  'process_madvise',
  'process_vm_readv',
  'process_vm_writev',
  'ptrace',
  'query_module',
  'quotactl',
  'quotactl_fd',
  'reboot',
  'request_key',
  'set_mempolicy',
  'setdomainname',
  'sethostname',
  'setns',
  'settimeofday',
  'socket',
  'swapoff',
  'swapon',
  'sysfs',
  'syslog',
  'umount2',
  'unshare',
  'uselib',
  'userfaultfd',
  'ustat',
  'vhangup',
] as const;

/** `#define __NR_name 123` lines: name → number. Aliases (`__NR3264_…`) and the `__NR_syscalls` count are not system calls. */
export function parseUnistd(text: string): Map<string, number> {
  const numbers = new Map<string, number>();
  for (const match of text.matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) {
    const [, name, value] = match;
    if (name === undefined || value === undefined || name === 'syscalls') continue;
    const previous = numbers.get(name);
    if (previous !== undefined && previous !== Number(value)) throw new Error(`__NR_${name} is defined twice: ${previous} and ${value}`);
    numbers.set(name, Number(value));
  }
  return numbers;
}

/** The table file's text, from the two headers' text. */
export function renderSyscallTable(x86_64: string, asmGeneric: string): string {
  const x64 = parseUnistd(x86_64);
  const arm64 = parseUnistd(asmGeneric);
  const rows = SYSCALL_TABLE_NAMES.map((name) => {
    const a = x64.get(name) ?? null;
    const b = arm64.get(name) ?? null;
    if (a === null && b === null) throw new Error(`${name}: in neither header`);
    return `  ${name}: { x64: ${a}, arm64: ${b} },`;
  });
  return [
    '// System call numbers of the names the seccomp filter uses, for x86_64',
    '// (asm/unistd_64.h) and arm64 (asm-generic/unistd.h). Generated from Linux',
    "// 6.1's uapi headers by `node test/sandbox/syscall-headers.ts`; do not edit",
    '// by hand (test/sandbox/syscall-table.test.ts checks it against the headers).',
    '// null: that architecture has no such system call.',
    "import type { SeccompArch } from './types.ts';",
    '',
    'export const SYSCALL_NUMBERS = {',
    ...rows,
    '} as const satisfies Readonly<Record<string, Readonly<Record<SeccompArch, number | null>>>>;',
    '',
    'export type SyscallName = keyof typeof SYSCALL_NUMBERS;',
    '',
  ].join('\n');
}

if (import.meta.main) {
  process.stdout.write(renderSyscallTable(readFileSync(X86_64_UNISTD, 'utf8'), readFileSync(ASM_GENERIC_UNISTD, 'utf8')));
}
