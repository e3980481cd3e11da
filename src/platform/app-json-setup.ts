import { randomBytes } from 'node:crypto';
import type { AppJsonProcess, AppJsonVar } from '../build/index.ts';
import { BerthError } from '../errors.ts';

// What a deploy with an app.json sets up, as pure decisions over plain data
// (the platform applies them in the transaction that makes the release).
//
// A declared config var is set up once per app: the first deploy whose
// app.json declares it fills it in (its value, or a generated secret) unless
// the app already has it, from its config or an add-on; either way the key
// is remembered, so a var the user later unsets stays unset and a secret is
// never generated twice. A required var (no value, no generator) must be
// there on every deploy. A process type's formation is applied when the
// type has none yet (no `berth scale` and no earlier app.json set it): after
// that, `berth scale` decides.

export interface EnvSetup {
  /** Values to add to the app's config (generated secrets among them); a null-prototype object. */
  readonly fill: Readonly<Record<string, string>>;
  /** Keys filled with a generated secret. */
  readonly generated: readonly string[];
  /** Keys filled with app.json's value. */
  readonly defaulted: readonly string[];
  /** Every key now set up (filled now, or found set), to remember. */
  readonly keys: readonly string[];
  /** Required keys the app does not have: the deploy is refused. */
  readonly missing: readonly string[];
}

/** A secret as Heroku's generator makes it: 32 random bytes, 64 hex digits. */
export function generateSecret(): string {
  return randomBytes(32).toString('hex');
}

/**
 * What app.json's env does for an app that has the vars `present` (its
 * config and its add-ons' vars) and has set up `setUp` before.
 */
export function planEnvSetup(vars: readonly AppJsonVar[], present: ReadonlySet<string>, setUp: ReadonlySet<string>, secret: () => string = generateSecret): EnvSetup {
  const fill: Record<string, string> = Object.create(null) as Record<string, string>;
  const generated: string[] = [];
  const defaulted: string[] = [];
  const keys: string[] = [];
  const missing: string[] = [];
  for (const v of vars) {
    const fillable = v.generator !== null || v.value !== null;
    if (present.has(v.key)) {
      if (fillable && !setUp.has(v.key)) keys.push(v.key);
      continue;
    }
    if (fillable && setUp.has(v.key)) continue;
    if (v.generator === 'secret') {
      fill[v.key] = secret();
      generated.push(v.key);
    } else if (v.value !== null) {
      fill[v.key] = v.value;
      defaulted.push(v.key);
    } else {
      if (v.required) missing.push(v.key);
      continue;
    }
    keys.push(v.key);
  }
  return { fill, generated, defaulted, keys, missing };
}

/** The deploy's refusal when required vars are missing: each key named, and how to set it. */
export function missingConfigError(app: string, vars: readonly AppJsonVar[], missing: readonly string[]): BerthError {
  const described = missing.map((key) => {
    const description = vars.find((v) => v.key === key)?.description;
    return description ? `${key} (${description})` : key;
  });
  return new BerthError('BERTH_E_CONFIG_REQUIRED', `app.json requires ${described.join(', ')}, which the app does not have; nothing was built`, {
    status: 422,
    hint: `Set ${missing.length === 1 ? 'it' : 'them'}, then deploy again: berth config set ${missing.map((key) => `${key}=...`).join(' ')} --app ${app}`,
  });
}

export interface FormationSetup {
  /** Instances per type to record (types without a formation yet). */
  readonly quantities: Readonly<Record<string, number>>;
  /** Memory limits per type, for the same types. */
  readonly memory: Readonly<Record<string, number>>;
  /** Types app.json names that the release does not declare. */
  readonly undeclared: readonly string[];
}

/**
 * app.json's formation for a release declaring `declared` types, on an app
 * whose formation already has `scaled` types. A type given only a size
 * gets one instance, as an unscaled type does.
 */
export function planFormationSetup(processes: readonly AppJsonProcess[], declared: readonly string[], scaled: ReadonlySet<string>): FormationSetup {
  const quantities: Record<string, number> = Object.create(null) as Record<string, number>;
  const memory: Record<string, number> = Object.create(null) as Record<string, number>;
  const undeclared: string[] = [];
  for (const p of processes) {
    if (!declared.includes(p.type)) {
      undeclared.push(p.type);
      continue;
    }
    if (scaled.has(p.type)) continue;
    quantities[p.type] = p.quantity ?? 1;
    if (p.memoryBytes !== null) memory[p.type] = p.memoryBytes;
  }
  return { quantities, memory, undeclared };
}
