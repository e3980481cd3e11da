import { parse } from 'shell-quote';
import { BerthError } from '../errors.ts';

/**
 * Turns a Procfile command into an argv array, expanding $VAR and ${VAR}
 * from the process environment the way a shell would, but without a shell:
 * pipes, redirects, `&&` and globs are refused, so nothing a config var
 * contains can ever be run as code. A user who really wants a shell writes
 * `sh -c '...'` in the Procfile, where it is visible.
 */
export function commandToArgv(command: string, env: Readonly<Record<string, string | undefined>>): string[] {
  const tokens = parse(command, (name) => env[name] ?? '');
  const argv: string[] = [];
  for (const token of tokens) {
    if (typeof token === 'string') {
      // An unset variable expands to no word at all, as in a shell (the
      // parser cannot tell it from a quoted "", which Procfiles rarely need).
      if (token !== '') argv.push(token);
      continue;
    }
    if ('comment' in token) break;
    const what = 'op' in token ? String(token.op) : 'a shell construct';
    throw new BerthError('BERTH_E_PROCFILE', `command "${command}" uses "${what}", which needs a shell`, {
      hint: "berth runs Procfile commands without a shell; wrap shell syntax explicitly: web: sh -c '...'",
    });
  }
  if (argv.length === 0) {
    throw new BerthError('BERTH_E_PROCFILE', `command "${command}" is empty after expansion`);
  }
  return argv;
}
