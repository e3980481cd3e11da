// A one-off run with a terminal (`berth run` from a terminal, `ssh -t`):
// the command gets a pseudo-terminal made where it runs (inside its
// sandbox, on the sandbox's own devpts), so nothing it does to its terminal
// reaches any terminal of the host. Node has no pty of its own and berth
// takes no native addon, so util-linux's `script` makes it: it opens the
// pty, makes the command a session leader on it, relays bytes between the
// pty and its own pipes (which berth holds), and exits with the command's
// status (-e). `script -c` hands its command to `$SHELL -c`; berth's argv
// never passes through that shell's parser: the shell runs one fixed
// program (PTY_PROGRAM) that rebuilds the argv from numbered environment
// variables by reference, sets the window size, and execs it.

/** A terminal's size, as the client's terminal has it. */
export interface TerminalSize {
  readonly rows: number;
  readonly cols: number;
}

/** What the shell `script` starts runs: the argv from BERTH_RUN_ARG_0…N-1, exactly, then the variables are gone. */
export const PTY_PROGRAM = [
  'n=0',
  'set --',
  // Only the index is interpolated into the eval'd text; the words are expanded as "${VAR}", never parsed.
  'while [ "$n" -lt "$BERTH_RUN_ARGC" ]; do eval "set -- \\"\\$@\\" \\"\\${BERTH_RUN_ARG_$n}\\""; unset "BERTH_RUN_ARG_$n"; n=$((n + 1)); done',
  'if [ -n "$BERTH_RUN_ROWS" ]; then stty rows "$BERTH_RUN_ROWS" cols "$BERTH_RUN_COLS" 2>/dev/null; fi',
  'if [ -n "${BERTH_RUN_SHELL+set}" ]; then SHELL=$BERTH_RUN_SHELL; export SHELL; else unset SHELL; fi',
  'unset BERTH_RUN_ARGC BERTH_RUN_ROWS BERTH_RUN_COLS BERTH_RUN_SHELL n',
  'exec "$@"',
].join('\n');

/**
 * util-linux's script, by its absolute path: found by PATH it could be the
 * app's own program of that name (its virtualenv's bin comes first).
 */
export const SCRIPT_PROGRAM = '/usr/bin/script';

/** A sane size: a client's numbers are bounded before they reach stty. */
export function terminalSize(rows: unknown, cols: unknown): TerminalSize | null {
  const fits = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 10_000;
  return fits(rows) && fits(cols) ? { rows, cols } : null;
}

/** A TERM value berth passes on (xterm-256color, screen.xterm, vt100): anything else is dropped. */
export function terminalType(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(value) ? value : null;
}

/**
 * The argv and environment that run `argv` on a new pseudo-terminal of
 * `size` (null: script's default) through `script`. Pure.
 */
export function ptyCommand(argv: readonly string[], env: Readonly<Record<string, string>>, size: TerminalSize | null): { argv: string[]; env: Record<string, string> } {
  const wrapped: Record<string, string> = { ...env, SHELL: '/bin/sh', BERTH_RUN_ARGC: String(argv.length) };
  if (env.SHELL !== undefined) wrapped.BERTH_RUN_SHELL = env.SHELL;
  argv.forEach((word, i) => (wrapped[`BERTH_RUN_ARG_${i}`] = word));
  if (size !== null) {
    wrapped.BERTH_RUN_ROWS = String(size.rows);
    wrapped.BERTH_RUN_COLS = String(size.cols);
  }
  // -q: no "Script started" lines; -e: the command's exit status; -E auto: the pty echoes (script's input is berth's pipe, not a terminal).
  return { argv: [SCRIPT_PROGRAM, '-q', '-e', '-E', 'auto', '-c', PTY_PROGRAM, '/dev/null'], env: wrapped };
}
