// Every error berth reports on purpose is a BerthError: a stable code that
// scripts and tests can match, a message that says what happened, and a hint
// that says what the user should do. Codes are documented in docs/ERRORS.md
// and a test fails if one is missing there.

export const ERROR_CODES = {
  BERTH_E_USAGE: 'a command was called with missing or invalid arguments',
  BERTH_E_APP_UNDETECTED: 'the app folder has nothing berth knows how to run',
  BERTH_E_APP_DIR: 'the app folder does not exist or is not a folder',
  BERTH_E_PROCFILE: 'the Procfile could not be parsed',
  BERTH_E_APP_CONFIG: 'berth.toml could not be parsed or failed validation',
  BERTH_E_INSTALL: 'installing the app dependencies failed',
  BERTH_E_LISTEN: 'a listener could not be opened',
  BERTH_E_ADDRESS: 'a host:port address is malformed',
  BERTH_E_STATIC_ROOT: 'a static root does not exist or is not a folder',
  BERTH_E_NOT_READY: 'no instance became ready in time',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options: { hint?: string; status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    this.hint = options.hint;
    this.status = options.status ?? 400;
  }
}

export function isBerthError(err: unknown): err is BerthError {
  return err instanceof BerthError;
}
