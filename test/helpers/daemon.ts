import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { BerthProcess } from './berth-process.ts';

/** A real `berth server` on ephemeral ports, with its admin token. */
export interface Daemon {
  readonly berth: BerthProcess;
  readonly api: string;
  readonly edge: string;
  readonly token: string;
}

export async function startDaemon(stateDir: string, workers = 1): Promise<Daemon> {
  const berth = new BerthProcess(['server', '--state', stateDir, '--http', '127.0.0.1:0', '--api', '127.0.0.1:0', '--workers', String(workers)]);
  const edge = (await berth.waitFor(/edge listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  const api = (await berth.waitFor(/api listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  await berth.waitFor(/\| ready$/m);
  const token = (await readFile(join(stateDir, 'admin-token'), 'utf8')).trim();
  return { berth, api, edge, token };
}

/** A GET to the edge for an app's host name (fetch cannot set Host). */
export function viaEdge(edge: string, host: string, path = '/'): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(edge);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
