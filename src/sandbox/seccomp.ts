// The default seccomp filter as the classic-BPF program bwrap installs
// (`bwrap --seccomp FD`: an array of struct sock_filter, read to the end).
// bwrap takes only a compiled program and berth has no libseccomp binding,
// so the compiler is here: small, pure, and checked instruction by
// instruction by test/sandbox/seccomp.test.ts. What it refuses and why:
// seccomp-policy.ts.
//
// Layout:
//   arch = seccomp_data.arch; not this architecture's → KILL_PROCESS
//   nr = seccomp_data.nr
//   (x86_64) nr ≥ 0x40000000 (x32) → KILL_PROCESS, except -1 (what a tracer
//            sets to skip a call; the kernel answers ENOSYS)
//   a binary search over the policy's numbers, sorted: `nr ≥ pivot` picks a
//   half; a leaf of at most LEAF_SIZE numbers is compare-and-act pairs, then
//   ALLOW. An act is a RET, or an argument check (load the first argument's
//   low word, compare, RET) that always returns, so nothing jumps back.
// Conditional jumps (u8 offsets) only ever skip a short act; the one long
// jump, over a left half, is BPF_JA, whose offset is 32 bits. So the
// program stays valid however long the list grows, up to the kernel's
// 4096 instructions (checked). A call runs at most 17 of the default
// program's ~200 instructions (a linear list would run ~65).
import { DEFAULT_SECCOMP_POLICY, type SeccompRule } from './seccomp-policy.ts';
import { SYSCALL_NUMBERS, type SyscallName } from './syscall-table.ts';
import type { SeccompArch } from './types.ts';

/** One classic-BPF instruction (struct sock_filter). */
export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

// <linux/filter.h> (classic BPF) opcodes, combined.
export const BPF_LD_W_ABS = 0x20;
export const BPF_JMP_JA = 0x05;
export const BPF_JMP_JEQ_K = 0x15;
export const BPF_JMP_JGE_K = 0x35;
export const BPF_JMP_JSET_K = 0x45;
export const BPF_RET_K = 0x06;

// <linux/seccomp.h>, <linux/audit.h>.
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const AUDIT_ARCH: Readonly<Record<SeccompArch, number>> = Object.freeze({ x64: 0xc000003e, arm64: 0xc00000b7 });
export const X32_SYSCALL_BIT = 0x40000000;
const EPERM = 1;
const ENOSYS = 38;

// struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
// Both architectures are little-endian, so an argument's low word is first.
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_ARG0_LOW = 16;

/** The kernel's limit (BPF_MAXINSNS), which bwrap passes through. */
export const MAX_INSTRUCTIONS = 4096;
const LEAF_SIZE = 4;

const insn = (code: number, k: number, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k: k >>> 0 });
const ret = (value: number) => insn(BPF_RET_K, value);
const ALLOW = ret(SECCOMP_RET_ALLOW);
const KILL = ret(SECCOMP_RET_KILL_PROCESS);
const DENY = ret(SECCOMP_RET_ERRNO | EPERM);

/** The architecture berth builds a filter for on this Node (`process.arch`), or null: there is no filter for it, and the caller says so. */
export function seccompArch(nodeArch: string = process.arch): SeccompArch | null {
  return nodeArch === 'x64' || nodeArch === 'arm64' ? nodeArch : null;
}

/** The default filter for `arch`, as the bytes `bwrap --seccomp FD` reads. Pure: the same bytes every time. */
export function defaultSeccompProgram(arch: SeccompArch): Buffer {
  return encodeProgram(compileSeccomp(arch, DEFAULT_SECCOMP_POLICY));
}

/** A policy (name → rule; every other call allowed) as instructions for `arch`. Names the architecture lacks are left out. */
export function compileSeccomp(arch: SeccompArch, policy: Readonly<Partial<Record<SyscallName, SeccompRule>>>): BpfInstruction[] {
  const rules: SeccompNumberRule[] = [];
  for (const [name, rule] of Object.entries(policy) as Array<[SyscallName, SeccompRule | undefined]>) {
    const nr = SYSCALL_NUMBERS[name][arch];
    if (nr !== null && rule !== undefined) rules.push({ nr, rule });
  }
  return compileRules(arch, rules);
}

export interface SeccompNumberRule {
  readonly nr: number;
  readonly rule: SeccompRule;
}

/** Rules by system call number (any order, one per number) as instructions for `arch`. */
export function compileRules(arch: SeccompArch, rules: readonly SeccompNumberRule[]): BpfInstruction[] {
  const sorted = [...rules].sort((a, b) => a.nr - b.nr);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.nr === sorted[i - 1]!.nr) throw new Error(`seccomp policy: two rules for system call ${sorted[i]!.nr} on ${arch}`);
  }
  const program = [
    insn(BPF_LD_W_ABS, SECCOMP_DATA_ARCH),
    insn(BPF_JMP_JEQ_K, AUDIT_ARCH[arch], 1, 0),
    KILL,
    insn(BPF_LD_W_ABS, SECCOMP_DATA_NR),
    ...(arch === 'x64' ? [insn(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 3), insn(BPF_JMP_JEQ_K, 0xffffffff, 0, 1), ALLOW, KILL] : []),
    ...search(sorted),
  ];
  if (program.length > MAX_INSTRUCTIONS) throw new Error(`seccomp program of ${program.length} instructions is over the kernel's ${MAX_INSTRUCTIONS}`);
  return program;
}

/** struct sock_filter[] in native (little-endian) order: u16 code, u8 jt, u8 jf, u32 k. */
export function encodeProgram(program: readonly BpfInstruction[]): Buffer {
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((instruction, i) => {
    if (instruction.jt > 255 || instruction.jf > 255) throw new Error(`seccomp program: instruction ${i} jumps past a u8 offset`);
    bytes.writeUInt16LE(instruction.code, i * 8);
    bytes.writeUInt8(instruction.jt, i * 8 + 2);
    bytes.writeUInt8(instruction.jf, i * 8 + 3);
    bytes.writeUInt32LE(instruction.k, i * 8 + 4);
  });
  return bytes;
}

/** With nr in the accumulator: act on the entries' numbers (sorted), ALLOW anything else. */
function search(entries: readonly SeccompNumberRule[]): BpfInstruction[] {
  if (entries.length <= LEAF_SIZE) {
    const leaf: BpfInstruction[] = [];
    for (const { nr, rule } of entries) {
      const act = actOn(rule);
      leaf.push(insn(BPF_JMP_JEQ_K, nr, 0, act.length), ...act);
    }
    leaf.push(ALLOW);
    return leaf;
  }
  const middle = entries.length >> 1;
  const below = search(entries.slice(0, middle));
  const above = search(entries.slice(middle));
  // nr ≥ pivot: fall to the JA that leaps over the lower half; else skip it.
  return [insn(BPF_JMP_JGE_K, entries[middle]!.nr, 0, 1), insn(BPF_JMP_JA, below.length), ...below, ...above];
}

/** The instructions for one rule; every path through them returns. */
function actOn(rule: SeccompRule): BpfInstruction[] {
  const loadArg0 = insn(BPF_LD_W_ABS, SECCOMP_DATA_ARG0_LOW);
  switch (rule.kind) {
    case 'eperm':
      return [DENY];
    case 'enosys':
      return [ret(SECCOMP_RET_ERRNO | ENOSYS)];
    case 'eperm-if-any-flag':
      return [loadArg0, insn(BPF_JMP_JSET_K, rule.mask, 0, 1), DENY, ALLOW];
    case 'eperm-if-equal':
      return [loadArg0, insn(BPF_JMP_JEQ_K, rule.value, 0, 1), DENY, ALLOW];
    case 'eperm-unless-one-of': {
      // Each match jumps over the rest and the DENY to the ALLOW.
      const n = rule.values.length;
      return [loadArg0, ...rule.values.map((value, i) => insn(BPF_JMP_JEQ_K, value, n - i, 0)), DENY, ALLOW];
    }
  }
}
