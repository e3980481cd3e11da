import { BerthError } from '../errors.ts';
import { MIN_MEMORY_BYTES } from '../build/index.ts';
import { DEFAULT_INSTANCE_LIMITS, type ResourceLimits, type SandboxMode } from '../sandbox/index.ts';
import { parseSize } from '../units.ts';

/**
 * `berth server --sandbox auto|required|off --default-memory SIZE|none
 * --default-cpu CORES|none --default-processes N|none`: whether apps run
 * contained, and each instance's limits unless its berth.toml or `berth
 * scale` say otherwise (512m, 1 core, 512 processes).
 */
export function parseSandboxOptions(options: { sandbox?: string; defaultMemory?: string; defaultCpu?: string; defaultProcesses?: string }): { mode: SandboxMode; limits: ResourceLimits } {
  const mode = options.sandbox ?? 'auto';
  if (mode !== 'auto' && mode !== 'required' && mode !== 'off') {
    throw new BerthError('BERTH_E_USAGE', `--sandbox must be auto, required or off, got ${JSON.stringify(mode)}`, { hint: 'auto contains apps when the machine can (and says why when it cannot); required refuses to start without; off never contains them.' });
  }
  let memoryBytes = DEFAULT_INSTANCE_LIMITS.memoryBytes;
  if (options.defaultMemory !== undefined) {
    memoryBytes = options.defaultMemory === 'none' ? null : parseSize(options.defaultMemory);
    if (memoryBytes !== null && memoryBytes < MIN_MEMORY_BYTES) throw new BerthError('BERTH_E_USAGE', `--default-memory ${options.defaultMemory} is too small to run anything`, { hint: 'Give at least 16m (e.g. 512m), or none for no limit.' });
  }
  let cpu = DEFAULT_INSTANCE_LIMITS.cpu;
  if (options.defaultCpu !== undefined) {
    cpu = options.defaultCpu === 'none' ? null : Number(options.defaultCpu);
    if (cpu !== null && !(/^\d+(\.\d+)?$/.test(options.defaultCpu) && cpu >= 0.01 && cpu <= 1024)) throw new BerthError('BERTH_E_USAGE', `--default-cpu must be a share of one core from 0.01 (e.g. 0.5, 2) or none, got ${JSON.stringify(options.defaultCpu)}`);
  }
  let processes = DEFAULT_INSTANCE_LIMITS.processes;
  if (options.defaultProcesses !== undefined) {
    processes = options.defaultProcesses === 'none' ? null : Number(options.defaultProcesses);
    if (processes !== null && !(/^\d+$/.test(options.defaultProcesses) && processes >= 1 && processes <= 4_194_304)) throw new BerthError('BERTH_E_USAGE', `--default-processes must be a whole number from 1 or none, got ${JSON.stringify(options.defaultProcesses)}`);
  }
  return { mode, limits: { memoryBytes, cpu, processes } };
}
