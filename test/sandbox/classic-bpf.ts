// A classic-BPF interpreter for seccomp programs, as the kernel runs them
// (kernel/seccomp.c over net/core/filter.c), for the filter's unit tests.
// It knows only what seccomp allows and berth emits; anything else throws,
// so an unexpected instruction fails a test instead of being guessed at.

export const SECCOMP_DATA_SIZE = 64;

/** struct seccomp_data, little-endian: int nr; u32 arch; u64 ip; u64 args[6]. */
export function seccompData(arch: number, nr: number, args: readonly bigint[] = []): Buffer {
  const data = Buffer.alloc(SECCOMP_DATA_SIZE);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  data.writeBigUInt64LE(0x7f00_1234_5678n, 8);
  args.forEach((value, i) => data.writeBigUInt64LE(BigInt.asUintN(64, value), 16 + 8 * i));
  return data;
}

export interface Instruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

export function decode(program: Buffer): Instruction[] {
  if (program.length % 8 !== 0) throw new Error(`a program of ${program.length} bytes is not whole struct sock_filter entries`);
  const instructions: Instruction[] = [];
  for (let offset = 0; offset < program.length; offset += 8) {
    instructions.push({ code: program.readUInt16LE(offset), jt: program.readUInt8(offset + 2), jf: program.readUInt8(offset + 3), k: program.readUInt32LE(offset + 4) });
  }
  return instructions;
}

const LD_W_ABS = 0x20;
const ALU_AND_K = 0x54;
const JA = 0x05;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const KNOWN = new Set([LD_W_ABS, ALU_AND_K, JA, JEQ_K, JGT_K, JGE_K, JSET_K, RET_K]);
const CONDITIONAL = new Set([JEQ_K, JGT_K, JGE_K, JSET_K]);

/** Where control can go from instruction `pc` (nothing for a RET). */
function successors(instruction: Instruction, pc: number): number[] {
  if (instruction.code === RET_K) return [];
  if (instruction.code === JA) return [pc + 1 + instruction.k];
  if (CONDITIONAL.has(instruction.code)) return [pc + 1 + instruction.jt, pc + 1 + instruction.jf];
  return [pc + 1];
}

/** What the kernel's checker (and seccomp's) would refuse, plus dead code. Returns the problems found. */
export function checkProgram(program: Buffer): string[] {
  const instructions = decode(program);
  const problems: string[] = [];
  if (instructions.length === 0 || instructions.length > 4096) problems.push(`${instructions.length} instructions (1 to 4096 allowed)`);
  instructions.forEach((instruction, pc) => {
    if (!KNOWN.has(instruction.code)) problems.push(`${pc}: opcode 0x${instruction.code.toString(16)}`);
    if (instruction.code === LD_W_ABS && (instruction.k % 4 !== 0 || instruction.k + 4 > SECCOMP_DATA_SIZE)) problems.push(`${pc}: load from ${instruction.k}`);
    for (const next of successors(instruction, pc)) if (next >= instructions.length) problems.push(`${pc}: jumps to ${next}, past the end`);
  });
  if (instructions.at(-1)?.code !== RET_K) problems.push('the last instruction is not a RET');
  const reached = new Set<number>();
  const queue = [0];
  while (queue.length > 0) {
    const pc = queue.pop()!;
    if (reached.has(pc) || pc >= instructions.length) continue;
    reached.add(pc);
    queue.push(...successors(instructions[pc]!, pc));
  }
  for (let pc = 0; pc < instructions.length; pc++) if (!reached.has(pc)) problems.push(`${pc}: unreachable`);
  return problems;
}

/** Runs the program over one seccomp_data: the value it returns, and how many instructions that took. */
export function runFilter(program: Buffer, data: Buffer): { result: number; steps: number } {
  const instructions = decode(program);
  let accumulator = 0;
  let pc = 0;
  for (let steps = 1; steps <= instructions.length; steps++) {
    const instruction = instructions[pc];
    if (instruction === undefined) throw new Error(`ran off the end at ${pc}`);
    const { code, jt, jf, k } = instruction;
    switch (code) {
      case LD_W_ABS:
        if (k % 4 !== 0 || k + 4 > data.length) throw new Error(`${pc}: load from ${k}`);
        accumulator = data.readUInt32LE(k);
        pc += 1;
        break;
      case ALU_AND_K:
        accumulator = (accumulator & k) >>> 0;
        pc += 1;
        break;
      case JA:
        pc += 1 + k;
        break;
      case JEQ_K:
        pc += 1 + (accumulator === k ? jt : jf);
        break;
      case JGT_K:
        pc += 1 + (accumulator > k ? jt : jf);
        break;
      case JGE_K:
        pc += 1 + (accumulator >= k ? jt : jf);
        break;
      case JSET_K:
        pc += 1 + ((accumulator & k) !== 0 ? jt : jf);
        break;
      case RET_K:
        return { result: k, steps };
      default:
        throw new Error(`${pc}: unknown opcode 0x${code.toString(16)}`);
    }
  }
  // Jumps only go forward, so a program ends within its own length.
  throw new Error('the program did not return');
}
