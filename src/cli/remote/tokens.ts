import type { Command } from 'commander';
import { tokenName } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { NewTokenAnswer, RevokedAnswer, TokensAnswer } from './schemas.ts';
import { cell, formatJson, formatTable, formatTime } from './table.ts';

/** `berth tokens create NAME | list | revoke NAME`. */
export function registerTokens(cli: Command, ctx: RemoteContext): void {
  const tokens = cli.command('tokens').description('API tokens: one per machine or CI job, each revocable on its own');

  tokens
    .command('create')
    .description('create an API token; it is shown this once (on stdout, alone, so a script can capture it)')
    .argument('<name>', 'a name for the token, e.g. ci or laptop.alice')
    .option('--json', "print the API's JSON answer")
    .action(async (name: string, opts: { json?: boolean }) => {
      const { value, json } = await ctx.client().call('POST', '/tokens', NewTokenAnswer, { name: tokenName(name) });
      if (opts.json) return ctx.io.out(formatJson(json));
      ctx.io.err(`created the token ${cell(value.name)}; it is shown only this once, keep it somewhere safe:\n`);
      ctx.io.out(`${value.token}\n`);
    });

  tokens
    .command('list')
    .description('list API tokens (never their values)')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { json?: boolean }) => {
      const { value, json } = await ctx.client().call('GET', '/tokens', TokensAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      ctx.io.out(
        formatTable(
          ['NAME', 'CREATED', 'LAST USED', 'REVOKED'],
          value.tokens.map((token) => [token.name, formatTime(token.createdAt), formatTime(token.lastUsedAt), formatTime(token.revokedAt)]),
        ),
      );
    });

  tokens
    .command('revoke')
    .description('revoke an API token: calls made with it are refused from now on')
    .argument('<name>', 'the token name')
    .action(async (name: string) => {
      const { value } = await ctx.client().call('DELETE', apiPath('tokens', tokenName(name)), RevokedAnswer);
      ctx.io.out(`revoked ${cell(value.revoked)}\n`);
    });
}
