// `berth edge-process --state DIR --socket PATH [--code-salt S]`: started
// by `berth server` (RemoteEdge), never by hand.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { runEdgeProcess } from './edge-process.ts';
import { edgePaths } from './files.ts';

export async function edgeProcessMain(argv: readonly string[]): Promise<number> {
  let values: { state?: string; socket?: string; 'code-salt'?: string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { state: { type: 'string' }, socket: { type: 'string' }, 'code-salt': { type: 'string' } }, strict: true }));
  } catch (err) {
    process.stderr.write(`berth edge-process: ${(err as Error).message}\n`);
    return 2;
  }
  if (values.state === undefined) {
    process.stderr.write('berth edge-process: --state is required (this command is started by berth server)\n');
    return 2;
  }
  const stateDir = resolve(values.state);
  const paths = edgePaths(stateDir);
  const socket = values.socket === undefined ? paths.socket : resolve(values.socket);
  // Its socket only ever lives in STATE/run, root's alone.
  if (!socket.startsWith(`${paths.runDir}/`) || socket.slice(paths.runDir.length + 1).includes('/')) {
    process.stderr.write(`berth edge-process: --socket must name a file in ${paths.runDir}\n`);
    return 2;
  }
  try {
    await runEdgeProcess({ stateDir, socket, codeSalt: values['code-salt'] ?? '' });
    return 0;
  } catch (err) {
    process.stderr.write(`berth edge-process: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
