// A `berth` with only the remote commands and their defaults (process.env,
// SIGINT), printing errors as src/cli/index.ts does: what the subprocess
// tests run, so they do not depend on how the full program is wired.
import { Command, CommanderError } from 'commander';
import { isBerthError } from '../../../src/errors.ts';
import { registerRemoteCommands } from '../../../src/cli/remote/index.ts';

const cli = new Command('berth').exitOverride();
registerRemoteCommands(cli, { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) });
try {
  await cli.parseAsync(process.argv.slice(2), { from: 'user' });
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else if (isBerthError(err)) {
    process.stderr.write(`berth: ${err.message} [${err.code}]\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    process.exitCode = 1;
  } else throw err;
}
