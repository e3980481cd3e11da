// The program's entry point: everything is wired in run(); nothing happens at import.
import { run } from './index.ts';

process.exitCode = await run(process.argv.slice(2));
