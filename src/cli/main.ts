// The program's entry point: everything is wired in run(); nothing happens at import.
import { handleClosedOutput } from './closed-output.ts';
import { isServing, run } from './index.ts';

const argv = process.argv.slice(2);
handleClosedOutput([process.stdout, process.stderr], { serving: isServing(argv) });
process.exitCode = await run(argv);
