import { BerthError } from '../errors.ts';

// The Python an app asks for: `.python-version` (pyenv's: "3.11", "3.11.4")
// or Heroku's `runtime.txt` ("python-3.11.4"). Chosen among the Pythons the
// machine has, or refused naming the file and what is installed: a request
// berth cannot meet must fail the build at once, not as "No module named
// pip" from whatever Python ran instead. Pure.

export interface PythonRequest {
  /** The file that asked, for messages. */
  readonly file: string;
  /** As written ("3.11", "3.11.4"). */
  readonly version: string;
}

/** The request in a `.python-version` or `runtime.txt`, or a refusal saying what is wrong with it. */
export function parsePythonRequest(file: '.python-version' | 'runtime.txt', text: string): PythonRequest {
  // pyenv's file may list several versions, one per line; the first is the one.
  const first = text.split(/\r?\n/).map((line) => line.replace(/#.*/, '').trim()).find((line) => line !== '') ?? '';
  const version = file === 'runtime.txt' ? first.replace(/^python-/, '') : first.replace(/^(?:python|cpython)-?/i, '');
  if (!/^3(?:\.\d{1,3}){1,2}$/.test(version)) {
    throw new BerthError('BERTH_E_PYTHON_VERSION', `${file} asks for ${JSON.stringify(first)}, which is not a Python 3 version berth can match`, {
      status: 422,
      hint: `Write the version as ${file === 'runtime.txt' ? 'python-3.11 (or python-3.11.4)' : '3.11 (or 3.11.4)'}, or remove ${file} to use the machine's python3.`,
    });
  }
  return { file, version };
}

/** Whether an installed version ("3.11.2") meets a request ("3.11" any patch; "3.11.2" exactly). */
export function versionMatches(installed: string, requested: string): boolean {
  const want = requested.split('.');
  const have = installed.split('.');
  return want.every((part, i) => have[i] === part);
}

/** The first Python (in preference order) whose version meets the request; refused naming the file and the versions there are. */
export function pickRequestedPython<T extends { readonly version: string | null }>(pythons: readonly T[], request: PythonRequest): T {
  const found = pythons.find((python) => python.version !== null && versionMatches(python.version, request.version));
  if (found !== undefined) return found;
  const installed = [...new Set(pythons.map((python) => python.version).filter((v) => v !== null))];
  throw new BerthError('BERTH_E_PYTHON_VERSION', `${request.file} asks for Python ${request.version}; this machine has ${installed.length === 0 ? 'no Python 3' : installed.join(', ')}`, {
    status: 422,
    hint: `Ask for one of those in ${request.file} (e.g. ${installed[0]?.split('.').slice(0, 2).join('.') ?? '3.11'}), or install Python ${request.version} on the server (on Debian: apt install python${request.version.split('.').slice(0, 2).join('.')}-venv).`,
  });
}
