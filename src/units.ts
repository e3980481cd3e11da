import { BerthError } from './errors.ts';

const SIZE_UNITS: Readonly<Record<string, number>> = Object.fromEntries(
  // 512m, 512mb, 512mi, 512mib (Kubernetes' spelling) all mean 512 × 1024².
  (['', 'k', 'm', 'g', 't'] as const).flatMap((prefix, power) =>
    (prefix === '' ? ['', 'b'] : [prefix, `${prefix}b`, `${prefix}i`, `${prefix}ib`]).map((unit) => [unit, 1024 ** power]),
  ),
);

/** `512`, `16k`, `10m`, `1g`, `1Gi` (binary units, as nginx reads them) → bytes. */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
  } else {
    const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(input.trim());
    const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
    if (match && unit !== undefined) {
      const bytes = Math.round(Number(match[1]) * unit);
      if (Number.isSafeInteger(bytes)) return bytes;
    }
  }
  throw new BerthError('BERTH_E_USAGE', `"${input}" is not a size`, { hint: 'Use a number of bytes or one with a unit: 512k, 10m, 1g.' });
}

/** `10s`, `500ms`, `2m` or a bare number of seconds → milliseconds. */
export function parseDuration(input: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(input.trim());
  if (!match) throw new BerthError('BERTH_E_USAGE', `"${input}" is not a duration`, { hint: 'Use e.g. 500ms, 10s or 2m.' });
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000);
}

/** 512 → "512 bytes", 536870912 → "512 MiB", 1610612736 → "1.5 GiB": sizes as berth shows them. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
