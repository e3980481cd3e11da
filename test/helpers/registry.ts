// Debian's docker-registry (Docker's distribution registry v2), one per test
// file: a generated config, storage in a temp folder, 127.0.0.1 port 0 (the
// port read from its "listening on" line), optionally TLS with a fresh
// self-signed certificate and htpasswd (bcrypt) users. Stopped in t.after.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
/** Where cleanups go: a test's context, or the bench's list. */
export interface Cleanups {
  after(fn: () => unknown): void;
}

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly plainHttp: boolean;
  /** The registry's certificate (self-signed: also its CA), with tls. */
  readonly caFile: string | undefined;
  readonly dir: string;
}

export interface RegistrySetup {
  readonly tls?: boolean;
  readonly users?: Readonly<Record<string, string>>;
  /** Bearer tokens from a token service: the registry trusts tokens signed by the key of `certFile`. */
  readonly token?: { readonly realm: string; readonly service: string; readonly issuer: string; readonly certFile: string };
}

export async function startRegistry(t: Cleanups, setup: RegistrySetup = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lines = ['version: 0.1', 'log:', '  level: info', '  accesslog:', '    disabled: true', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, '  delete:', '    enabled: true', 'http:', '  addr: 127.0.0.1:0', '  secret: berth-test-secret'];
  let caFile: string | undefined;
  if (setup.tls) {
    caFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 15_000 });
    lines.push('  tls:', `    certificate: ${caFile}`, `    key: ${keyFile}`);
  }
  if (setup.users) {
    const entries = Object.entries(setup.users).map(([user, password]) =>
      // The password on stdin (-i), never in argv; bcrypt (-B), which the registry requires.
      execFileSync('htpasswd', ['-Bin', user], { input: password, encoding: 'utf8', timeout: 30_000 }).trim(),
    );
    const file = join(dir, 'htpasswd');
    await writeFile(file, `${entries.join('\n')}\n`, { mode: 0o600 });
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${file}`);
  }
  if (setup.token) {
    lines.push('auth:', '  token:', `    realm: ${setup.token.realm}`, `    service: ${setup.token.service}`, `    issuer: ${setup.token.issuer}`, `    rootcertbundle: ${setup.token.certFile}`);
  }
  const config = join(dir, 'config.yml');
  await writeFile(config, `${lines.join('\n')}\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const host = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start in 30 s:\n${output}`)), 30_000);
    const onData = (chunk: string) => {
      output += chunk;
      const match = /listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    child.once('error', (err) => reject(err));
    child.once('exit', (code) => reject(new Error(`docker-registry exited (${code}):\n${output}`)));
  });
  t.after(
    () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  );
  return { host, plainHttp: !setup.tls, caFile, dir };
}
