// The default seccomp filter, run by a classic-BPF interpreter over
// synthetic seccomp_data: every system call number on both architectures,
// the argument rules, other ABIs, and random calls against the intended
// policy, which this file spells out again on its own (so a name dropped
// from the policy, or a compiler slip, shows as a difference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultSeccompProgram, seccompArch, type SeccompArch } from '../../src/sandbox/index.ts';
import { compileRules, encodeProgram } from '../../src/sandbox/seccomp.ts';
import { DEFAULT_SECCOMP_POLICY, type SeccompRule } from '../../src/sandbox/seccomp-policy.ts';
import { SYSCALL_NUMBERS, type SyscallName } from '../../src/sandbox/syscall-table.ts';
import { checkProgram, decode, runFilter, seccompData } from './classic-bpf.ts';

const ALLOW = 0x7fff0000;
const KILL_PROCESS = 0x80000000;
const EPERM = 0x00050000 | 1;
const ENOSYS = 0x00050000 | 38;
const AUDIT = { x64: 0xc000003e, arm64: 0xc00000b7 } as const;
const AUDIT_I386 = 0x40000003;
const AUDIT_ARM = 0x40000028;
const ARCHES: readonly SeccompArch[] = ['x64', 'arm64'];

// The intended policy, written out independently of src/sandbox/seccomp-policy.ts.
const ALWAYS_EPERM: readonly SyscallName[] = [
  'init_module', 'finit_module', 'delete_module', 'create_module', 'query_module', 'get_kernel_syms',
  'kexec_load', 'kexec_file_load', 'reboot',
  'add_key', 'request_key', 'keyctl',
  'bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'mount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr',
  'setns', 'kcmp', 'pidfd_getfd', 'process_madvise', 'name_to_handle_at', 'open_by_handle_at',
  'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex',
  'acct', 'swapon', 'swapoff', 'syslog', 'sethostname', 'setdomainname', 'vhangup', 'quotactl', 'quotactl_fd', 'lookup_dcookie', 'fanotify_init',
  'iopl', 'ioperm', 'move_pages', 'migrate_pages', 'nfsservctl', 'uselib', 'ustat', 'sysfs', '_sysctl',
];
const ALLOWED_ON_PURPOSE: readonly SyscallName[] = ['ptrace', 'process_vm_readv', 'process_vm_writev', 'get_mempolicy', 'set_mempolicy', 'mbind'];
const NAMESPACE_FLAGS = [0x80, 0x20000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];
const ANY_NAMESPACE = NAMESPACE_FLAGS.reduce((all, flag) => all | flag, 0);
const PERSONAS_ALLOWED = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
const AF_VSOCK = 40;
// What glibc, Node and Python really pass to clone.
const CLONE_THREAD_FLAGS = 0x3d0f00; // VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
const CLONE_FORK_FLAGS = 0x01200011; // CHILD_SETTID|CHILD_CLEARTID|SIGCHLD
const CLONE_VFORK_FLAGS = 0x4111; // VM|VFORK|SIGCHLD (posix_spawn)

const nameOf = Object.fromEntries(
  ARCHES.map((arch) => [arch, new Map(Object.entries(SYSCALL_NUMBERS).flatMap(([name, numbers]) => (numbers[arch] === null ? [] : [[numbers[arch], name as SyscallName] as const])))]),
) as Record<SeccompArch, Map<number, SyscallName>>;

function nr(arch: SeccompArch, name: SyscallName): number {
  const number = SYSCALL_NUMBERS[name][arch];
  assert.notEqual(number, null, `${name} on ${arch}`);
  return number!;
}

function intended(programArch: SeccompArch, auditArch: number, number: number, args: readonly bigint[]): number {
  if (auditArch !== AUDIT[programArch]) return KILL_PROCESS;
  if (programArch === 'x64' && number >= 0x40000000) return number === 0xffffffff ? ALLOW : KILL_PROCESS;
  const name = nameOf[programArch].get(number);
  const low = Number(BigInt.asUintN(32, args[0] ?? 0n));
  if (name === undefined) return ALLOW;
  if (ALWAYS_EPERM.includes(name)) return EPERM;
  switch (name) {
    case 'clone':
    case 'unshare':
      return (low & ANY_NAMESPACE) !== 0 ? EPERM : ALLOW;
    case 'clone3':
      return ENOSYS;
    case 'personality':
      return PERSONAS_ALLOWED.includes(low) ? ALLOW : EPERM;
    case 'socket':
      return low === AF_VSOCK ? EPERM : ALLOW;
    default:
      return ALLOW;
  }
}

const programs = { x64: defaultSeccompProgram('x64'), arm64: defaultSeccompProgram('arm64') };
const verdict = (arch: SeccompArch, number: number, args: readonly bigint[] = [], auditArch: number = AUDIT[arch]) => runFilter(programs[arch], seccompData(auditArch, number, args)).result;
const name = (value: number) => ({ [ALLOW]: 'ALLOW', [KILL_PROCESS]: 'KILL_PROCESS', [EPERM]: 'EPERM', [ENOSYS]: 'ENOSYS' })[value] ?? `0x${value.toString(16)}`;

// First arguments worth trying on every call: none, every namespace flag, everything, vsock, ASLR off, thread and fork flags.
const FIRST_ARGS = [0n, BigInt(ANY_NAMESPACE), 0xffff_ffff_ffff_ffffn, BigInt(AF_VSOCK), 0x0040000n, BigInt(CLONE_THREAD_FLAGS), BigInt(CLONE_FORK_FLAGS)];

test('every system call number 0..600 gets the intended verdict on both architectures, whatever its first argument', () => {
  for (const arch of ARCHES) {
    for (let number = 0; number <= 600; number++) {
      for (const first of FIRST_ARGS) {
        const args = [first, 1n, 2n, 3n, 4n, 5n];
        assert.equal(name(verdict(arch, number, args)), name(intended(arch, AUDIT[arch], number, args)), `${arch} ${nameOf[arch].get(number) ?? '#' + number}(0x${first.toString(16)}, …)`);
      }
    }
  }
});

test('each denied call is refused with EPERM by name, and the calls allowed on purpose pass', () => {
  for (const arch of ARCHES) {
    for (const syscall of ALWAYS_EPERM) {
      const number = SYSCALL_NUMBERS[syscall][arch];
      if (number !== null) assert.equal(name(verdict(arch, number)), 'EPERM', `${arch} ${syscall}`);
    }
    for (const syscall of ALLOWED_ON_PURPOSE) assert.equal(name(verdict(arch, nr(arch, syscall))), 'ALLOW', `${arch} ${syscall}`);
  }
  // The policy names exactly these (plus the argument rules): nothing added or dropped unseen.
  assert.deepEqual(Object.keys(DEFAULT_SECCOMP_POLICY).sort(), [...ALWAYS_EPERM, 'clone', 'clone3', 'personality', 'socket', 'unshare'].sort());
});

test('a call from another ABI is killed: 32-bit x86, AArch32, or the other architecture', () => {
  for (const arch of ARCHES) {
    const others = [AUDIT_I386, AUDIT_ARM, 0, 0xffffffff, arch === 'x64' ? AUDIT.arm64 : AUDIT.x64];
    for (const auditArch of others) {
      for (let number = 0; number <= 600; number++) assert.equal(name(verdict(arch, number, [], auditArch)), 'KILL_PROCESS', `${arch} program, arch 0x${auditArch.toString(16)}, #${number}`);
    }
  }
});

test('x32 system call numbers are killed on x86_64; -1 (a tracer skipping a call) passes to the kernel, which answers ENOSYS', () => {
  for (let number = 0; number <= 600; number++) assert.equal(name(verdict('x64', 0x40000000 + number)), 'KILL_PROCESS', `x32 #${number}`);
  for (const number of [0x40000000, 0x7fffffff, 0x80000000, 0xfffffffe]) assert.equal(name(verdict('x64', number)), 'KILL_PROCESS', `0x${number.toString(16)}`);
  assert.equal(name(verdict('x64', 0xffffffff)), 'ALLOW');
  assert.equal(name(verdict('x64', 0x3fffffff)), 'ALLOW');
  // arm64 has no second ABI behind that bit: unknown numbers go to the kernel (ENOSYS).
  assert.equal(name(verdict('arm64', 0x40000000 + 172)), 'ALLOW');
});

test('clone with any namespace flag is refused; threads, fork, vfork and posix_spawn are not', () => {
  for (const arch of ARCHES) {
    const clone = nr(arch, 'clone');
    for (const flag of NAMESPACE_FLAGS) {
      assert.equal(name(verdict(arch, clone, [BigInt(flag)])), 'EPERM', `${arch} clone(0x${flag.toString(16)})`);
      assert.equal(name(verdict(arch, clone, [BigInt(flag | CLONE_FORK_FLAGS)])), 'EPERM', `${arch} fork | 0x${flag.toString(16)}`);
      assert.equal(name(verdict(arch, clone, [BigInt(flag | CLONE_THREAD_FLAGS)])), 'EPERM', `${arch} thread | 0x${flag.toString(16)}`);
    }
    for (const flags of [CLONE_THREAD_FLAGS, CLONE_FORK_FLAGS, CLONE_VFORK_FLAGS, 17, 0]) assert.equal(name(verdict(arch, clone, [BigInt(flags)])), 'ALLOW', `${arch} clone(0x${flags.toString(16)})`);
    // The kernel reads only clone's low 32 bits: a flag above them is no namespace.
    assert.equal(name(verdict(arch, clone, [BigInt(0x10000000) << 32n | BigInt(CLONE_FORK_FLAGS)])), 'ALLOW');
    // clone3's flags are in memory: refused whatever they are, with ENOSYS so callers fall back to clone.
    for (const args of [[], [0x1000n, 88n], [0xffffffffn, 64n]]) assert.equal(name(verdict(arch, nr(arch, 'clone3'), args)), 'ENOSYS');
  }
});

test('unshare with any namespace flag (CLONE_NEWTIME too) is refused; CLONE_FS, CLONE_FILES and CLONE_SYSVSEM are not', () => {
  for (const arch of ARCHES) {
    const unshare = nr(arch, 'unshare');
    for (const flag of NAMESPACE_FLAGS) {
      assert.equal(name(verdict(arch, unshare, [BigInt(flag)])), 'EPERM', `${arch} unshare(0x${flag.toString(16)})`);
      assert.equal(name(verdict(arch, unshare, [BigInt(flag | 0x600)])), 'EPERM', `${arch} unshare(FS|FILES|0x${flag.toString(16)})`);
    }
    for (const flags of [0x200, 0x400, 0x40000, 0x600, 0]) assert.equal(name(verdict(arch, unshare, [BigInt(flags)])), 'ALLOW', `${arch} unshare(0x${flags.toString(16)})`);
  }
});

test("personality: only Docker's personas and the query", () => {
  for (const arch of ARCHES) {
    const personality = nr(arch, 'personality');
    for (const persona of PERSONAS_ALLOWED) assert.equal(name(verdict(arch, personality, [BigInt(persona)])), 'ALLOW', `0x${persona.toString(16)}`);
    // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, PER_BSD, ASLR off with PER_LINUX32, ADDR_LIMIT_32BIT, 0xfffffffe.
    for (const persona of [0x0040000, 0x0400000, 0x6, 0x0040008, 0x0800000, 0xfffffffe]) assert.equal(name(verdict(arch, personality, [BigInt(persona)])), 'EPERM', `0x${persona.toString(16)}`);
  }
});

test('socket: AF_VSOCK is refused, every other family passes', () => {
  for (const arch of ARCHES) {
    const socket = nr(arch, 'socket');
    assert.equal(name(verdict(arch, socket, [BigInt(AF_VSOCK), 1n, 0n])), 'EPERM');
    for (const family of [1, 2, 10, 16, 17]) assert.equal(name(verdict(arch, socket, [BigInt(family), 1n, 0n])), 'ALLOW', `family ${family}`);
  }
});

test('the program is small, deterministic, valid for the kernel, laid out as struct sock_filter, and cheap to run', () => {
  for (const arch of ARCHES) {
    const program = programs[arch];
    assert.deepEqual(defaultSeccompProgram(arch), program, 'the same bytes every time');
    assert.equal(program.length % 8, 0);
    const instructions = decode(program);
    assert.ok(instructions.length <= 256, `${arch}: ${instructions.length} instructions`);
    assert.deepEqual(checkProgram(program), []);
    // u16 code, u8 jt, u8 jf, u32 k, little-endian: load arch, compare, kill.
    assert.equal(program.subarray(0, 24).toString('hex'), '2000000004000000' + '15000100' + Buffer.from(new Uint32Array([AUDIT[arch]]).buffer).toString('hex') + '0600000000000080');
    let most = 0;
    for (let number = 0; number <= 600; number++) most = Math.max(most, runFilter(program, seccompData(AUDIT[arch], number)).steps);
    assert.ok(most <= 20, `${arch}: up to ${most} instructions for one call`);
  }
  assert.notDeepEqual(programs.x64, programs.arm64);
});

test('a list far longer than the default still compiles to a valid program (long jumps are BPF_JA)', () => {
  const rules = Array.from({ length: 1000 }, (_, i): { nr: number; rule: SeccompRule } => ({ nr: i * 3, rule: i % 7 === 0 ? { kind: 'eperm-if-any-flag', mask: 0x10 } : { kind: 'eperm' } }));
  for (const arch of ARCHES) {
    const program = encodeProgram(compileRules(arch, rules));
    assert.deepEqual(checkProgram(program), []);
    assert.ok(decode(program).some((instruction) => instruction.code === 0x05 && instruction.k > 255), 'some jump is beyond a u8 offset');
    for (let number = 0; number < 3005; number++) {
      const expected = number % 3 === 0 && number < 3000 ? ((number / 3) % 7 === 0 ? ALLOW : EPERM) : ALLOW;
      assert.equal(name(runFilter(program, seccompData(AUDIT[arch], number)).result), name(expected), `#${number}`);
    }
  }
  assert.throws(() => compileRules('x64', [{ nr: 1, rule: { kind: 'eperm' } }, { nr: 1, rule: { kind: 'enosys' } }]), /two rules/);
  assert.throws(() => compileRules('x64', Array.from({ length: 2000 }, (_, i) => ({ nr: i, rule: { kind: 'eperm' } }))), /over the kernel's 4096/);
});

test('property: for random calls, the program answers what the policy intends', () => {
  const tableNumbers = Object.values(SYSCALL_NUMBERS).flatMap((numbers): number[] => [numbers.x64, numbers.arm64].filter((n) => n !== null));
  const interesting = [...NAMESPACE_FLAGS, ...PERSONAS_ALLOWED, AF_VSOCK, CLONE_THREAD_FLAGS, CLONE_FORK_FLAGS, CLONE_VFORK_FLAGS, 0x0040000].map(BigInt);
  fc.assert(
    fc.property(
      fc.constantFrom(...ARCHES),
      fc.oneof(fc.constantFrom(AUDIT.x64, AUDIT.arm64), fc.constantFrom(AUDIT_I386, AUDIT_ARM), fc.nat({ max: 0xffffffff })),
      fc.oneof(fc.nat({ max: 1023 }), fc.constantFrom(...tableNumbers), fc.nat({ max: 1023 }).map((n) => 0x40000000 + n), fc.constant(0xffffffff), fc.nat({ max: 0xffffffff })),
      fc.oneof(fc.constantFrom(...interesting), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.tuple(fc.constantFrom(...interesting), fc.constantFrom(...interesting)).map(([a, b]) => a | b)),
      fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 5, maxLength: 5 }),
      (arch, auditArch, number, first, rest) => {
        const args = [first, ...rest];
        assert.equal(name(verdict(arch, number, args, auditArch)), name(intended(arch, auditArch, number, args)));
      },
    ),
    { numRuns: 20_000 },
  );
});

test("seccompArch: Node's x64 and arm64, nothing else", () => {
  assert.equal(seccompArch('x64'), 'x64');
  assert.equal(seccompArch('arm64'), 'arm64');
  for (const other of ['ia32', 'arm', 'riscv64', 's390x', 'ppc64', 'loong64', 'mips']) assert.equal(seccompArch(other), null, other);
  assert.equal(seccompArch(), process.arch === 'x64' || process.arch === 'arm64' ? process.arch : null);
});
