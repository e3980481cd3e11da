import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { BerthError, isBerthError } from '../../errors.ts';
import { packSource } from '../../build/index.ts';
import { appName } from '../../platform/index.ts';
import { parseDeployMessage } from './arguments.ts';
import { apiPath, remoteError } from './client.ts';
import type { RemoteContext } from './context.ts';
import { escapeControls } from '../../terminal-text.ts';
import { DeployOutcome, type Release } from './schemas.ts';
import { formatBytes } from './table.ts';

/** A line that is a deploy's outcome (`{"result": "ok", …}` or `{"error": …}`), or null for a build output line. */
export function parseOutcome(line: string): DeployOutcome | null {
  if (!line.startsWith('{')) return null;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return null;
  }
  const checked = DeployOutcome.safeParse(json);
  return checked.success ? checked.data : null;
}

/**
 * Prints a deploy's streamed lines as they arrive and returns its outcome:
 * the last line, when it is one. An outcome-shaped line that is not the last
 * (a build printing JSON) is printed like any other line. A connection lost
 * right after the outcome line still has its outcome; lost before it, the
 * error is thrown. Null: the answer ended cleanly without an outcome.
 */
export async function followDeploy(lines: AsyncIterable<string>, print: (line: string) => void): Promise<DeployOutcome | null> {
  let held: { line: string; outcome: DeployOutcome } | null = null;
  try {
    for await (const line of lines) {
      if (held !== null) print(held.line);
      const outcome = parseOutcome(line);
      held = outcome === null ? null : { line, outcome };
      if (outcome === null) print(line);
    }
  } catch (err) {
    if (held !== null && isBerthError(err) && err.code === 'BERTH_E_CONNECTION_LOST') return held.outcome;
    if (held !== null) print(held.line);
    throw err;
  }
  return held?.outcome ?? null;
}

function released(app: string, release: Release): string {
  return release.current ? `deployed ${app}: ${release.name} is live\n` : `deployed ${app}: ${release.name} is ${release.status}\n`;
}

/** `berth deploy [DIR] --app NAME [--message TEXT]`. */
export function registerDeploy(cli: Command, ctx: RemoteContext): void {
  cli
    .command('deploy')
    .description('upload an app folder (without what .gitignore and .berthignore leave out) and stream its build and release')
    .argument('[dir]', 'the app folder', '.')
    .requiredOption('--app <name>', 'the app to deploy')
    .option('--message <text>', 'a description for the release (one line of ASCII)')
    .action(async (dir: string, opts: { app: string; message?: string }) => {
      const app = appName(opts.app);
      const message = parseDeployMessage(opts.message);
      const client = ctx.client();
      const packed = await packSource(dir);
      try {
        ctx.io.out(`uploading ${packed.files} ${packed.files === 1 ? 'file' : 'files'} (${formatBytes(packed.bytes)}) to ${app} on ${client.server}\n`);
        const headers: Record<string, string> = { 'content-type': 'application/gzip' };
        if (message !== undefined) headers['x-berth-description'] = message;
        const lines = await client.lines('POST', apiPath('apps', app, 'deploy'), {
          body: Readable.toWeb(packed.stream) as ReadableStream<Uint8Array>,
          headers,
        });
        const outcome = await followDeploy(lines, (line) => ctx.io.out(`${escapeControls(line)}\n`));
        if (outcome === null) {
          throw new BerthError('BERTH_E_CONNECTION_LOST', `the deploy of ${app} ended without saying whether it succeeded`, {
            hint: `Check \`berth releases --app ${app}\` to see whether it released.`,
          });
        }
        if ('error' in outcome) throw remoteError(outcome.error, 200);
        ctx.io.out(released(app, outcome.release));
      } finally {
        // Closes the file being read if the upload stopped early.
        packed.stream.destroy();
      }
    });
}
