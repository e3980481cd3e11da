// `npm run bench:footprint`: berth's own resting memory and its start-up
// time, run from the TypeScript sources and from the build in dist/.
//
// For each command (file-server on examples/static-site, up on
// examples/node-hello, server with no apps), each way of running it and each
// engine count, it starts berth on ephemeral ports, waits for it to say it is
// serving, makes one request, idles, and reads berth's own /proc/PID/status
// (VmRSS covers every thread of the process; the app `up` runs is another
// process and is not counted; `server`'s edge process is, with the daemon). Then it times `berth --version`. See
// bench/README.md ("Footprint") for the numbers and how to read them.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeJsonAtomically } from './lib/results-file.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = process.execPath;
const ENTRIES = { sources: join(ROOT, 'src', 'cli', 'main.ts'), dist: join(ROOT, 'dist', 'cli', 'main.js') } as const;
type Mode = keyof typeof ENTRIES;

const USAGE = `usage: npm run bench:footprint -- [options]      (or: node bench/footprint.ts [options])
  --idle SECONDS        how long each berth idles before its memory is read (default 5)
  --workers LIST        engine counts to measure (default 1,2)
  --only LIST           commands to measure: file-server,up,server (default all)
  --from LIST           ways to run berth: sources,dist (default both)
  --starts N            runs of each --version timing (default 15)
  --node-option FLAG    an extra node option for every berth started, repeatable (to try V8 flags)
  --no-build            measure dist/ as it is instead of building it first
`;

interface Cell {
  readonly command: string;
  readonly mode: Mode;
  readonly workers: number;
  /** For `server`: the daemon and its edge process together (the edge is a process of its own). */
  readonly rssKiB: number;
  readonly anonKiB: number;
  readonly fileKiB: number;
  /** For `server`: the edge process's share of rssKiB. */
  readonly edgeRssKiB?: number;
}

function field(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`no ${name} in /proc/PID/status`);
  return Number(match[1]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts berth, waits for `ready` in its output, fetches once, idles, reads its memory, stops it. */
async function measure(command: string, mode: Mode, workers: number, args: readonly string[], ready: RegExp, idleMs: number, nodeOptions: readonly string[]): Promise<Cell> {
  const child = spawn(NODE, [...nodeOptions, ENTRIES[mode], ...args, '--workers', String(workers)], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so `up`'s app goes with it if anything goes wrong
  });
  let output = '';
  const exited = once(child, 'exit');
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command} (${mode}) did not start in 60 s:\n${output}`)), 60_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const match = ready.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${command} (${mode}) exited:\n${output}`));
      });
    });
    const answer = await fetch(url);
    await answer.arrayBuffer();
    await sleep(idleMs);
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const cell = { command, mode, workers, rssKiB: field(status, 'VmRSS'), anonKiB: field(status, 'RssAnon'), fileKiB: field(status, 'RssFile') };
    // `berth server` runs its edge as a process of its own (STATE/run/edge.json names it): counted with it.
    const state = args[0] === 'server' ? args[args.indexOf('--state') + 1] : undefined;
    if (state === undefined) return cell;
    const edgePid = (JSON.parse(await readFile(join(state, 'run', 'edge.json'), 'utf8')) as { pid: number }).pid;
    const edge = await readFile(`/proc/${edgePid}/status`, 'utf8');
    return { ...cell, rssKiB: cell.rssKiB + field(edge, 'VmRSS'), anonKiB: cell.anonKiB + field(edge, 'RssAnon'), fileKiB: cell.fileKiB + field(edge, 'RssFile'), edgeRssKiB: field(edge, 'VmRSS') };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT: a full stop, the edge process with it (SIGTERM would leave it serving for a next daemon).
      child.kill('SIGINT');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

/** The median wall time, in ms, of running `node ARGS` to its end, and its last stderr. */
function medianStart(args: readonly string[], runs: number): { ms: number; stderr: string } {
  const times: number[] = [];
  let stderr = '';
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = spawnSync(NODE, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    times.push(performance.now() - start);
    if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr}`);
    stderr = result.stderr;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, stderr };
}

const mib = (kib: number) => (kib / 1024).toFixed(1);

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        idle: { type: 'string', default: '5' },
        workers: { type: 'string', default: '1,2' },
        only: { type: 'string', default: 'file-server,up,server' },
        from: { type: 'string', default: 'sources,dist' },
        starts: { type: 'string', default: '15' },
        'node-option': { type: 'string', multiple: true, default: [] },
        'no-build': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`bench:footprint: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const idleMs = Number(values.idle) * 1000;
  const starts = Number(values.starts);
  const workerCounts = values.workers.split(',').map(Number);
  const only = values.only.split(',');
  const nodeOptions = values['node-option'];
  const modes = values.from.split(',') as Mode[];
  if (!(idleMs >= 0) || !(starts >= 1) || workerCounts.some((n) => !Number.isInteger(n) || n < 1) || modes.some((m) => !(m in ENTRIES))) {
    process.stderr.write(`bench:footprint: bad --idle, --starts, --workers or --from\n\n${USAGE}`);
    return 2;
  }
  const log = (line: string) => process.stderr.write(`bench:footprint: ${line}\n`);

  if (!values['no-build'] && modes.includes('dist')) {
    log('building dist/ from the current sources');
    const build = spawnSync(NODE, [join(ROOT, 'bin', 'dist.js'), '--quiet'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) return 1;
  }

  const state = await mkdtemp(join(tmpdir(), 'berth-footprint-'));
  const commands = [
    { command: 'file-server', args: ['file-server', '--root', 'examples/static-site', '--listen', '127.0.0.1:0'], ready: /serving \S+ on (http:\/\/\S+)/ },
    { command: 'up', args: ['up', 'examples/node-hello', '--listen', '127.0.0.1:0'], ready: /edge listening on (http:\/\/\S+)/ },
    { command: 'server', args: ['server', '--state', state, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0'], ready: /edge listening on (http:\/\/\S+)[^]*\bready\b/ },
  ].filter((c) => only.includes(c.command));

  const cells: Cell[] = [];
  try {
    for (const { command, args, ready } of commands) {
      for (const workers of workerCounts) {
        for (const mode of modes) {
          const cell = await measure(command, mode, workers, args, ready, idleMs, nodeOptions);
          log(`${command} --workers ${workers} from ${mode}: ${mib(cell.rssKiB)} MiB (anon ${mib(cell.anonKiB)}, file ${mib(cell.fileKiB)})${cell.edgeRssKiB === undefined ? '' : `, of which the edge process ${mib(cell.edgeRssKiB)} MiB`}`);
          cells.push(cell);
        }
      }
    }
  } finally {
    await rm(state, { recursive: true, force: true });
  }

  log(`timing --version, median of ${starts}`);
  const startup: Record<string, number> = { 'node -e 0 (the floor)': medianStart([...nodeOptions, '-e', '0'], starts).ms };
  for (const mode of modes) startup[`node ${ENTRIES[mode].slice(ROOT.length + 1)}`] = medianStart([...nodeOptions, ENTRIES[mode], '--version'], starts).ms;
  if (modes.includes('dist')) {
    const bin = medianStart([...nodeOptions, join(ROOT, 'bin', 'berth.js'), '--version'], starts);
    // Other work in this tree may have touched src/ since the build: then bin/berth.js rightly ran the sources.
    startup[`node bin/berth.js (${bin.stderr.includes('older than src/') ? 'found dist/ stale and ran the sources' : 'checked dist/ and ran it'})`] = bin.ms;
  }

  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const both = modes.includes('sources') && modes.includes('dist');
  const lines = [
    `berth footprint — node ${process.version}, commit ${commit}, ${idleMs / 1000} s idle${nodeOptions.length ? `, node options: ${nodeOptions.join(' ')}` : ''}`,
    '',
    `| command | engines | ${modes.map((m) => `from ${m}: RSS (anon)`).join(' | ')} |${both ? ' dist saves |' : ''}`,
    `|---|---|${modes.map(() => '---|').join('')}${both ? '---|' : ''}`,
  ];
  for (const { command } of commands) {
    for (const workers of workerCounts) {
      const cell = (mode: Mode) => cells.find((c) => c.command === command && c.workers === workers && c.mode === mode)!;
      const saved = both ? ` ${mib(cell('sources').rssKiB - cell('dist').rssKiB)} MiB |` : '';
      lines.push(`| ${command} | ${workers} | ${modes.map((m) => `${mib(cell(m).rssKiB)} MiB (${mib(cell(m).anonKiB)})`).join(' | ')} |${saved}`);
    }
  }
  lines.push('', '| `--version` start-up | median |', '|---|---|');
  for (const [name, ms] of Object.entries(startup)) lines.push(`| ${name} | ${ms.toFixed(0)} ms |`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const resultsPath = join(ROOT, 'bench', 'results', 'footprint.json');
  await writeJsonAtomically(resultsPath, { node: process.version, commit, idleMs, nodeOptions, cells, startupMs: startup });
  log(`results written to ${resultsPath}`);
  return 0;
}

process.exitCode = await main();
