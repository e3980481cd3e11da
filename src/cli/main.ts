// The program's entry point: everything is wired in run(); nothing happens at import.
import { handleClosedOutput } from './closed-output.ts';

const argv = process.argv.slice(2);
if (argv[0] === 'edge-process') {
  // Hidden (not in the help): the edge process `berth server` starts, which
  // outlives it. The command line's own modules are not loaded: a crashed
  // edge's successor is listening sooner.
  handleClosedOutput([process.stdout, process.stderr], { serving: true });
  const { edgeProcessMain } = await import('../edge-process/index.ts');
  process.exitCode = await edgeProcessMain(argv.slice(1));
} else {
  const { isServing, run } = await import('./index.ts');
  handleClosedOutput([process.stdout, process.stderr], { serving: isServing(argv) });
  process.exitCode = await run(argv);
}
