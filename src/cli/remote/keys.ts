import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { BerthError } from '../../errors.ts';
import { keyName } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { cell, formatJson, formatTable, formatTime } from './table.ts';

const KeySchema = z.object({
  name: z.string(),
  fingerprint: z.string(),
  algorithm: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullish(),
  revokedAt: z.string().nullish(),
});
const KeyAnswer = z.object({ key: KeySchema });
const KeysAnswer = z.object({ keys: z.array(KeySchema) });
const RemovedAnswer = z.object({ removed: z.string() });

/** A public key file's text; anything larger than a public key is refused before it is read whole. */
async function readKeyFile(path: string, maxBytes: number): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new BerthError('BERTH_E_USAGE', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'Give the public key file, e.g. ~/.ssh/id_ed25519.pub.' });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new BerthError('BERTH_E_USAGE', `${path} is not a file`, { hint: 'Give the public key file, e.g. ~/.ssh/id_ed25519.pub.' });
    if (info.size > maxBytes) throw new BerthError('BERTH_E_SSH_KEY', `${path} is larger than a public key (${maxBytes} bytes at most)`, { hint: 'Give the .pub file, e.g. ~/.ssh/id_ed25519.pub.' });
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** `berth keys add PUBKEY_FILE [--name NAME] | list | remove NAME`: the SSH keys that may git push. */
export function registerKeys(cli: Command, ctx: RemoteContext): void {
  const keys = cli.command('keys').description('SSH keys that may git push over SSH (berth server --ssh): one per person or machine, each removable on its own');

  keys
    .command('add')
    .description("register a public key; its name defaults to the key's comment (alice@laptop → alice-laptop)")
    .argument('<pubkey-file>', 'the public key file, e.g. ~/.ssh/id_ed25519.pub')
    .option('--name <name>', 'a name for the key, e.g. laptop.alice')
    .option('--json', "print the API's JSON answer")
    .action(async (file: string, opts: { name?: string; json?: boolean }) => {
      // Loaded here: the key parser brings ssh2, which no other command needs.
      const { keyNameFromComment, MAX_PUBLIC_KEY_BYTES, parsePublicKey } = await import('../../git/index.ts');
      const text = await readKeyFile(file, MAX_PUBLIC_KEY_BYTES);
      // Checked here too, so a private key given by mistake never leaves the machine.
      const parsed = parsePublicKey(text);
      let name: string;
      if (opts.name !== undefined) {
        name = keyName(opts.name);
      } else {
        const derived = keyNameFromComment(parsed.comment);
        if (derived === null) throw new BerthError('BERTH_E_USAGE', 'the key has no comment to name it by', { hint: `berth keys add ${file} --name NAME` });
        name = keyName(derived);
      }
      const { value, json } = await ctx.client().call('POST', '/keys', KeyAnswer, { name, publicKey: `${parsed.publicKey}${parsed.comment ? ` ${parsed.comment}` : ''}` });
      if (opts.json) return ctx.io.out(formatJson(json));
      ctx.io.out(`added the key ${cell(value.key.name)} (${cell(value.key.algorithm)} ${cell(value.key.fingerprint)})\n`);
    });

  keys
    .command('list')
    .description('list the SSH keys, removed ones too')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { json?: boolean }) => {
      const { value, json } = await ctx.client().call('GET', '/keys', KeysAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      ctx.io.out(
        formatTable(
          ['NAME', 'TYPE', 'FINGERPRINT', 'ADDED', 'LAST USED', 'REMOVED'],
          value.keys.map((key) => [key.name, key.algorithm, key.fingerprint, formatTime(key.createdAt), formatTime(key.lastUsedAt), formatTime(key.revokedAt)]),
        ),
      );
    });

  keys
    .command('remove')
    .description('remove an SSH key: it can no longer push (its name stays taken)')
    .argument('<name>', 'the key name')
    .action(async (name: string) => {
      const { value } = await ctx.client().call('DELETE', apiPath('keys', keyName(name)), RemovedAnswer);
      ctx.io.out(`removed the key ${cell(value.removed)}\n`);
    });
}
