import { request } from 'node:http';
import { portAccepts } from '../net/port-accepts.ts';
import { checkPortOwner, type PortOwner } from './port-owner.ts';
import type { ProbeResult } from './readiness.ts';

const PROBE_TIMEOUT_MS = 2_000;

function healthStatus(host: string, port: number, path: string): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', agent: false, timeout: PROBE_TIMEOUT_MS, headers: { 'user-agent': 'berth-health' } });
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(null));
    req.end();
  });
}

/**
 * One readiness probe of an instance: its port accepts, every listener on it
 * is the instance's own (`owner`), then its health path if it has one. The
 * ownership check comes before any request, so a request (the health check
 * included) never goes to a listener that is not the instance's.
 */
export async function probeInstance(host: string, port: number, healthPath: string | null, owner: PortOwner): Promise<ProbeResult> {
  if (!(await portAccepts(host, port, PROBE_TIMEOUT_MS))) return { kind: 'refused' };
  // In the app's own network namespace only its processes can listen: the host's tables do not even show them.
  const check = owner.kind === 'own-network' ? { kind: 'own' as const } : await checkPortOwner(port, owner);
  if (check.kind === 'none') return { kind: 'refused' };
  if (check.kind === 'foreign') return { kind: 'port-taken', uid: check.uid };
  if (healthPath === null) return { kind: 'listening' };
  const status = await healthStatus(host, port, healthPath);
  return status === null ? { kind: 'health-error' } : { kind: 'health', status };
}
