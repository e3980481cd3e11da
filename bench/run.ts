// `npm run bench`: berth against nginx (and Caddy, and plain node:http) on
// this machine, in one run. See bench/README.md for what is measured and how.
// Wiring only: options, the process registry and its exit hooks, the temp
// folder, the report. The benchmark itself is lib/runner.ts.
import { join } from 'node:path';
import { ChildProcesses } from './lib/child-processes.ts';
import { createWorkspace } from './lib/fixtures.ts';
import { parseBenchOptions, USAGE, UsageError } from './lib/options.ts';
import { failsCheck, renderMarkdown } from './lib/report.ts';
import { writeJsonAtomically } from './lib/results-file.ts';
import { runBenchmark } from './lib/runner.ts';

const repoRoot = join(import.meta.dirname, '..');
const resultsPath = join(repoRoot, 'bench', 'results', 'latest.json');

async function main(): Promise<number> {
  let options;
  try {
    options = parseBenchOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  const children = new ChildProcesses();
  const workspace = await createWorkspace();
  // Whatever happens, no server is left running: SIGKILL on exit, a clean stop on a signal.
  process.on('exit', () => children.killAllNow());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}: stopping servers\n`);
      void children
        .stopAll()
        .then(() => workspace.remove())
        .finally(() => process.exit(130));
    });
  }

  try {
    const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
    log(`${options.durationS} s runs after ${options.warmupS} s warm-ups; servers: ${options.servers.join(', ')}; scenarios: ${options.scenarios.join(', ')}`);
    const report = await runBenchmark({ options, children, workspace, repoRoot, log });
    process.stdout.write(`${renderMarkdown(report)}\n`);
    await writeJsonAtomically(resultsPath, report);
    log(`results written to ${resultsPath}`);
    return options.check && report.targets.some(failsCheck) ? 1 : 0;
  } finally {
    await children.stopAll();
    await workspace.remove();
  }
}

process.exitCode = await main();
