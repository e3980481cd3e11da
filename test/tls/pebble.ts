// A real ACME server for the tests: Debian's `pebble` (Let's Encrypt's test
// CA), on ephemeral ports of 127.0.0.1, with its own HTTPS certificate made
// by berth's local CA in a folder of its own. Optionally a
// `pebble-challtestsrv` DNS server that answers every name with 127.0.0.1,
// so pebble's validation authority really fetches HTTP-01 challenges from
// this machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LocalCa } from '../../src/tls/index.ts';

export interface PebbleOptions {
  /** PEBBLE_VA_ALWAYS_VALID=1: every challenge passes without a fetch. Default true. */
  readonly alwaysValid?: boolean;
  /** The port pebble's VA fetches HTTP-01 challenges from (its `httpPort`). */
  readonly httpPort?: number;
  /** Names pebble refuses to issue for (its `domainBlocklist`). */
  readonly blocklist?: readonly string[];
  /** The validity of issued certificates, in seconds (its `certificateValidityPeriod`). */
  readonly validitySeconds?: number;
  /** Start a DNS server answering every A query with 127.0.0.1, and make pebble's VA use it. */
  readonly dns?: boolean;
}

export interface Pebble {
  readonly directoryUrl: string;
  /** The root pebble's HTTPS listener is signed by: the `caBundle` for the ACME client. */
  readonly tlsRootPem: string;
  /** The root of the certificates pebble issues (GET /roots/0 on its management port). */
  issuerRoot(): Promise<string>;
  /** Its output so far, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (free when asked; a process started right after takes it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** GET over HTTPS trusting only `ca`; the body when the status is 200. */
export function httpsGet(url: string, ca: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode} ${body}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** True when something accepts HTTP on 127.0.0.1:port and answers. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', timeout: 500, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function start(file: string, args: string[], env: NodeJS.ProcessEnv, log: string[]): ChildProcess {
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    log.push(chunk.toString('utf8'));
    if (log.length > 400) log.splice(0, log.length - 400);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('error', (err) => log.push(`${file}: ${err.message} (is the Debian package "pebble" installed? apt-get install pebble)\n`));
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  // Never started (not installed): nothing to stop, and no 'exit' will come.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const deadline = Date.now() + 5000;
  while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) await Promise.race([exited, delay(50)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Start pebble (and its DNS server when asked); resolves once its directory answers. */
export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pebble-'));
  const log: string[] = [];
  const children: ChildProcess[] = [];
  const close = async () => {
    for (const child of children) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Pebble's own HTTPS certificate, for 127.0.0.1, from a local CA that only this pebble uses.
    const tlsCa = await LocalCa.open({ stateDir: join(dir, 'ca-state') });
    const tlsPair = await tlsCa.certificateFor('127.0.0.1');
    writeFileSync(join(dir, 'cert.pem'), tlsPair.certPem);
    writeFileSync(join(dir, 'key.pem'), tlsPair.keyPem, { mode: 0o600 });

    const args = ['-config', join(dir, 'pebble.json'), '-strict=false'];
    if (options.dns === true) {
      const dnsPort = await freePort();
      const dnsManagementPort = await freePort();
      children.push(
        start(
          'pebble-challtestsrv',
          ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagementPort}`],
          process.env,
          log,
        ),
      );
      args.push('-dnsserver', `127.0.0.1:${dnsPort}`);
      // Up once its management port answers (any status).
      const deadline = Date.now() + 10_000;
      while (!(await answers(dnsManagementPort))) {
        if (Date.now() > deadline || children[0]!.exitCode !== null || children[0]!.pid === undefined) throw new Error(`pebble-challtestsrv did not start:\n${log.join('')}`);
        await delay(25);
      }
    }

    // A port taken between freePort() and pebble's bind makes pebble exit: try again with new ports.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const managementPort = await freePort();
      const config = {
        pebble: {
          listenAddress: `127.0.0.1:${port}`,
          managementListenAddress: `127.0.0.1:${managementPort}`,
          certificate: join(dir, 'cert.pem'),
          privateKey: join(dir, 'key.pem'),
          httpPort: options.httpPort ?? 5002,
          tlsPort: 5001,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          domainBlocklist: options.blocklist ?? [],
          ...(options.validitySeconds === undefined ? {} : { certificateValidityPeriod: options.validitySeconds }),
        },
      };
      writeFileSync(join(dir, 'pebble.json'), JSON.stringify(config));
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        PEBBLE_AUTHZREUSE: '0',
        ...(options.alwaysValid === false ? {} : { PEBBLE_VA_ALWAYS_VALID: '1' }),
      };
      const child = start('pebble', args, env, log);
      children.push(child);
      const directoryUrl = `https://127.0.0.1:${port}/dir`;
      const deadline = Date.now() + 15_000;
      let up = false;
      while (!up && Date.now() < deadline && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          await httpsGet(directoryUrl, tlsCa.rootPem, 1000);
          up = true;
        } catch {
          await delay(50);
        }
      }
      if (up) {
        return {
          directoryUrl,
          tlsRootPem: tlsCa.rootPem,
          issuerRoot: () => httpsGet(`https://127.0.0.1:${managementPort}/roots/0`, tlsCa.rootPem),
          output: () => log.join(''),
          close,
        };
      }
      await stop(child);
      if (attempt >= 3) throw new Error(`pebble did not start:\n${log.join('')}`);
    }
  } catch (err) {
    await close();
    throw err;
  }
}
