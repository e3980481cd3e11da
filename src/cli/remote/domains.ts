import type { Command } from 'commander';
import { appName, domainName } from '../../platform/index.ts';
import { apiPath } from './client.ts';
import type { RemoteContext } from './context.ts';
import { CaAnswer, DomainsAnswer } from './schemas.ts';
import { formatJson, formatTable } from './table.ts';

/** `berth domains add HOST | remove HOST | list`, each with `--app NAME`. */
export function registerDomains(cli: Command, ctx: RemoteContext): void {
  const domains = cli.command('domains').description("the hostnames an app answers on, besides its own NAME.BASE");

  domains
    .command('add')
    .description("route a hostname to the app; point the name's DNS at this server")
    .argument('<hostname>', 'e.g. shop.example.com')
    .requiredOption('--app <name>', 'the app')
    .action(async (host: string, opts: { app: string }) => {
      const app = appName(opts.app);
      const name = domainName(host);
      await ctx.client().call('POST', apiPath('apps', app, 'domains'), DomainsAnswer, { hostname: name });
      ctx.io.out(`added ${name === host.toLowerCase() ? name : `${host} (${name})`} to ${app}\n`);
    });

  domains
    .command('remove')
    .description('stop routing a hostname to the app')
    .argument('<hostname>', 'e.g. shop.example.com')
    .requiredOption('--app <name>', 'the app')
    .action(async (host: string, opts: { app: string }) => {
      const app = appName(opts.app);
      const name = domainName(host);
      await ctx.client().call('DELETE', apiPath('apps', app, 'domains', name), DomainsAnswer);
      ctx.io.out(`removed ${name} from ${app}\n`);
    });

  domains
    .command('list')
    .description("list an app's domains, with the state of each one's certificate")
    .requiredOption('--app <name>', 'the app')
    .option('--json', "print the API's JSON answer")
    .action(async (opts: { app: string; json?: boolean }) => {
      const app = appName(opts.app);
      const { value, json } = await ctx.client().call('GET', apiPath('apps', app, 'domains'), DomainsAnswer);
      if (opts.json) return ctx.io.out(formatJson(json));
      if (value.details === undefined) {
        // A server from before certificates: names only.
        if (value.domains.length === 0) return ctx.io.out(`${app} has no domains; add one with: berth domains add HOST --app ${app}\n`);
        return ctx.io.out(formatTable(['DOMAIN'], value.domains.map((domain) => [domain])));
      }
      ctx.io.out(formatTable(['DOMAIN', 'CERTIFICATE', 'EXPIRES', 'NOTE'], value.details.map((domain) => domainRow(domain))));
      if (value.domains.length === 0) ctx.io.out(`${app} has no domains of its own; add one with: berth domains add HOST --app ${app}\n`);
    });

  cli
    .command('tls')
    .description("berth's local CA, which certifies NAME.localhost and IP addresses")
    .command('ca')
    .description("print the local CA's root certificate (PEM), to trust in a browser or with curl --cacert")
    .action(async () => {
      const { value } = await ctx.client().call('GET', '/tls/ca', CaAnswer);
      ctx.io.out(value.pem.endsWith('\n') ? value.pem : `${value.pem}\n`);
    });
}

interface DomainRow {
  readonly hostname: string;
  readonly display: string;
  readonly own: boolean;
  readonly certificate: { source: string; state: string; notAfter?: string | undefined; error?: string | undefined; nextAttempt?: string | undefined } | null;
}

function domainRow(domain: DomainRow): string[] {
  const name = domain.display !== domain.hostname ? `${domain.display} (${domain.hostname})` : domain.hostname;
  const certificate = domain.certificate;
  const state = certificate === null ? 'no https' : certificate.source === 'none' ? 'none' : `${certificate.state} (${certificate.source === 'acme' ? 'ACME' : 'local CA'})`;
  const notes: string[] = [];
  if (domain.own) notes.push("the app's own");
  if (certificate?.error) notes.push(`${certificate.error}${certificate.nextAttempt ? `; next try ${certificate.nextAttempt}` : ''}`);
  return [name, state, certificate?.notAfter?.slice(0, 10) ?? '-', notes.join('; ') || '-'];
}
