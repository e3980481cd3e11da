import { BerthError } from '../errors.ts';

/** A process type and the command line that runs it, as the Procfile gives it. */
export interface ProcessType {
  readonly name: string;
  readonly command: string;
}

// Heroku's grammar: a name of letters, digits, `_` and `-`, a colon, the
// command. Anything else is a mistake the user should hear about rather than
// a line silently dropped.
const PROCESS_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export function parseProcfile(text: string, source = 'Procfile'): ProcessType[] {
  const types: ProcessType[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const where = `${source} line ${i + 1}`;
    if (colon <= 0) {
      throw new BerthError('BERTH_E_PROCFILE', `${where}: expected "name: command", got "${line}"`, {
        hint: 'Each line of a Procfile is a process type, a colon and the command, e.g. "web: node server.js".',
      });
    }
    const name = line.slice(0, colon).trim();
    const command = line.slice(colon + 1).trim();
    if (!PROCESS_NAME.test(name)) {
      throw new BerthError('BERTH_E_PROCFILE', `${where}: "${name}" is not a valid process type name`, {
        hint: 'Process type names use letters, digits, "_" and "-", and start with a letter or digit.',
      });
    }
    if (command === '') {
      throw new BerthError('BERTH_E_PROCFILE', `${where}: process type "${name}" has no command`);
    }
    if (seen.has(name)) {
      throw new BerthError('BERTH_E_PROCFILE', `${where}: process type "${name}" is defined twice`);
    }
    seen.add(name);
    types.push({ name, command });
  }
  return types;
}
