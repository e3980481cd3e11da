// How long a deploy of examples/node-express (Express and its 60-odd
// packages) takes through a real `berth server`: the first deploy (npm ci
// from the registry), the same source again (node_modules restored from the
// build cache), and a code change with the same lockfile (the cache again).
// Beside them, a plain `npm ci` of the same folder in the same run, so the
// numbers carry their own yardstick.
//
//   npm run bench:build-cache [-- --rounds N]
import { spawn, execFileSync } from 'node:child_process';
import { appendFile, chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packSource } from '../src/build/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'node-express');
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 1;

interface Daemon {
  api: string;
  token: string;
  stop(): Promise<void>;
}

async function startDaemon(state: string): Promise<Daemon> {
  const child = spawn(process.execPath, [join(ROOT, 'src/cli/main.ts'), 'server', '--state', state, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', '--workers', '1', '--user-prefix', 'bench-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const api = await new Promise<string>((resolveApi, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth server did not start:\n${output}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /api listening on (http:\/\/\S+)/.exec(output);
      if (match && /\| ready$/m.test(output)) {
        clearTimeout(timer);
        resolveApi(match[1]!);
      }
    });
    child.once('exit', () => reject(new Error(`berth server exited:\n${output}`)));
  });
  const token = (await readFile(join(state, 'admin-token'), 'utf8')).trim();
  return {
    api,
    token,
    stop: () =>
      new Promise((done) => {
        child.once('exit', () => done());
        // A full stop: the edge process and the apps go too.
        child.kill('SIGINT');
      }),
  };
}

async function deploy(d: Daemon, app: string, dir: string): Promise<{ ms: number; cached: boolean }> {
  const started = performance.now();
  const packed = await packSource(dir);
  const res = await fetch(`${d.api}/apps/${app}/deploy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/gzip' },
    body: packed.stream as unknown as RequestInit['body'],
    duplex: 'half',
  } as RequestInit);
  const text = await res.text();
  const last = JSON.parse(text.trim().split('\n').at(-1)!) as { result?: string };
  if (last.result !== 'ok') throw new Error(`deploy failed:\n${text}`);
  return { ms: performance.now() - started, cached: text.includes('restored from the build cache') };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const rows: Record<string, number[]> = { 'plain npm ci (yardstick)': [], 'first deploy (npm ci)': [], 'same source again': [], 'code change, same lockfile': [] };
for (let round = 0; round < rounds; round++) {
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-build-'));
  // As root, apps run as their own users, who must be able to pass through.
  await chmod(root, 0o711);
  try {
    const plain = join(root, 'plain');
    await cp(EXAMPLE, plain, { recursive: true });
    const npmStarted = performance.now();
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: plain, stdio: 'ignore', env: { ...process.env, npm_config_cache: join(root, 'npm-cache') } });
    rows['plain npm ci (yardstick)']!.push(performance.now() - npmStarted);

    const d = await startDaemon(join(root, 'state'));
    try {
      const created = await fetch(`${d.api}/apps`, { method: 'POST', headers: { authorization: `Bearer ${d.token}` }, body: JSON.stringify({ name: 'express' }) });
      if (created.status !== 201) throw new Error(`cannot create the app: ${await created.text()}`);
      const source = join(root, 'source');
      await cp(EXAMPLE, source, { recursive: true });
      const first = await deploy(d, 'express', source);
      const again = await deploy(d, 'express', source);
      await appendFile(join(source, 'server.js'), '\n// a code change\n');
      const changed = await deploy(d, 'express', source);
      if (first.cached || !again.cached || !changed.cached) throw new Error('the build cache did not behave as expected');
      rows['first deploy (npm ci)']!.push(first.ms);
      rows['same source again']!.push(again.ms);
      rows['code change, same lockfile']!.push(changed.ms);
    } finally {
      // Destroying the app also removes its Unix user.
      await fetch(`${d.api}/apps/express?confirm=express`, { method: 'DELETE', headers: { authorization: `Bearer ${d.token}` } }).catch(() => {});
      await d.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const first = median(rows['first deploy (npm ci)']!);
console.log(`\n## Build cache: deploys of examples/node-express (${rounds} round${rounds === 1 ? '' : 's'}, medians)\n`);
console.log('| deploy | time | vs first |');
console.log('|---|---:|---:|');
for (const [name, values] of Object.entries(rows)) console.log(`| ${name} | ${(median(values) / 1000).toFixed(2)} s | ${(median(values) / first).toFixed(2)}× |`);
await writeFile(join(ROOT, 'bench', 'results', 'build-cache.json'), JSON.stringify(rows, null, 2)).catch(() => {});
