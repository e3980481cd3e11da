import { BerthError } from '../errors.ts';
import { configKey } from '../platform/names.ts';

// Which variables a new add-on gives the app. An add-on never silently
// takes a variable another one set (a SQLite add-on after PostgreSQL would
// have swapped DATABASE_URL for an empty database): it is refused unless
// the user attaches it under another name (`--as SQLITE_URL`), as Heroku
// attaches add-ons under an alias. Pure.

/** The variable an add-on's connection is given under (the one `as` renames): its URL. */
export function primaryVar(vars: Readonly<Record<string, string>>): string | null {
  return Object.keys(vars).find((key) => key.endsWith('_URL')) ?? null;
}

/**
 * The vars the new add-on gives, renamed by `as`, checked against the
 * add-ons the app has: a variable another add-on set to another value is
 * refused (the same value, such as the data folder a SQLite add-on and the
 * app's storage share, is fine).
 */
export function attachVars(
  app: string,
  kind: string,
  vars: Readonly<Record<string, string>>,
  others: ReadonlyArray<{ readonly kind: string; readonly vars: Readonly<Record<string, string>> }>,
  as: string | null,
): Record<string, string> {
  const attached: Record<string, string> = { ...vars };
  if (as !== null) {
    const primary = primaryVar(vars);
    if (primary === null) throw new BerthError('BERTH_E_USAGE', `${kind} has no connection URL to attach under another name`, { status: 400 });
    const name = configKey(as);
    delete attached[primary];
    if (name in attached) throw new BerthError('BERTH_E_USAGE', `${kind} sets ${name} itself; attach it under another name`, { status: 400 });
    attached[name] = vars[primary]!;
  }
  for (const [key, value] of Object.entries(attached)) {
    const holder = others.find((other) => key in other.vars && other.vars[key] !== value);
    if (holder === undefined) continue;
    const suggestion = key.endsWith('_URL') ? `${kind.toUpperCase()}_URL` : null;
    throw new BerthError('BERTH_E_ADDON_VAR_TAKEN', `${key} is ${app}'s ${holder.kind} add-on's; ${kind} would replace it and the app would switch to another database`, {
      status: 409,
      hint: suggestion === null ? `Destroy the ${holder.kind} add-on first, or do without ${kind}.` : `Attach ${kind} under another name: berth addons create ${kind} --as ${suggestion} --app ${app}`,
    });
  }
  return attached;
}
