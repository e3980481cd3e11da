import type { BerthError } from '../errors.ts';
import type { Store } from './store.ts';

// The audit trail of the platform's changes, shared by the parts that make
// them (apps, deploys, config, domains): one row per change — who, what, on
// what, and how it ended (an error's code, never its values).

export type AuditDetail = Record<string, string | number | readonly string[]>;

/** One audit row; `error` null for a change that succeeded. */
export function audit(store: Store, actor: string, action: string, target: string, detail: AuditDetail, error: unknown): void {
  if (error === null) store.audit({ actor, action, target, result: 'ok', detail });
  else store.audit({ actor, action, target, result: 'error', detail: { ...detail, error: (error as BerthError).code ?? 'error' } });
}

/** Runs `work` and records how it ended; its result or its error passes through. */
export function audited<T>(store: Store, actor: string, action: string, target: string, work: () => T, detail: AuditDetail = {}): T {
  try {
    const result = work();
    audit(store, actor, action, target, detail, null);
    return result;
  } catch (err) {
    audit(store, actor, action, target, detail, err);
    throw err;
  }
}

/** `audited` for asynchronous work. */
export async function auditedAsync<T>(store: Store, actor: string, action: string, target: string, work: () => Promise<T>, detail: AuditDetail = {}): Promise<T> {
  try {
    const result = await work();
    audit(store, actor, action, target, detail, null);
    return result;
  } catch (err) {
    audit(store, actor, action, target, detail, err);
    throw err;
  }
}
