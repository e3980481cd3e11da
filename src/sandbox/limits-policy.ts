import type { AppResources, ResourceRequest } from '../build/index.ts';
import { formatBytes } from '../units.ts';
import type { ResourceLimits } from './types.ts';

// How much an instance may use: the server's defaults, then the app's
// berth.toml [resources], then its [resources.TYPE], then what `berth scale
// web=2:1g` set for the type. Pure.

const MIB = 1024 * 1024;

/** `berth server --default-memory 512m --default-cpu 1 --default-processes 512`. */
export const DEFAULT_INSTANCE_LIMITS: ResourceLimits = Object.freeze({ memoryBytes: 512 * MIB, cpu: 1, processes: 512 });

/** A build gets the build memory limit (`--build-memory`), the machine's cores and room for a compiler's processes. */
export function buildLimits(memoryBytes: number | null, cores: number): ResourceLimits {
  return { memoryBytes, cpu: Math.max(1, cores), processes: 4096 };
}

function over(base: ResourceLimits, request: ResourceRequest | undefined): ResourceLimits {
  if (request === undefined) return base;
  return {
    memoryBytes: request.memoryBytes ?? base.memoryBytes,
    cpu: request.cpu ?? base.cpu,
    processes: request.processes ?? base.processes,
  };
}

export function instanceLimits(defaults: ResourceLimits, resources: AppResources, type: string, scaled?: ResourceRequest): ResourceLimits {
  return over(over(over(defaults, resources.all), resources.byType[type]), scaled);
}


/** The line an instance killed for memory gets, in its log, `berth ps`, the dashboard: never just "exited (137)". */
export function outOfMemoryMessage(instance: string, peakBytes: number | null, limitBytes: number): string {
  return `out of memory: ${instance} used ${formatBytes(Math.max(peakBytes ?? limitBytes, limitBytes))}, its limit`;
}
