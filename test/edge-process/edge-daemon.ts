// A stand-in for `berth server` in the edge-process tests: opens the edge
// (RemoteEdge), routes a.localhost to the upstream, says "ready EDGE_PID
// EDGE_PORT" and idles until killed. Usage: node edge-daemon.ts STATE UPSTREAM_PORT
import { RemoteEdge } from '../../src/edge-process/index.ts';

const [stateDir, upstreamPort] = process.argv.slice(2);
const edge = await RemoteEdge.open({ stateDir: stateDir!, http: { host: '127.0.0.1', port: 0 }, workers: 1, log: (line) => process.stderr.write(`${line}\n`) });
await edge.setRoutes({ hosts: { 'a.localhost': { key: 'a', mounts: [], upstreams: [{ id: 'web.1', host: '127.0.0.1', port: Number(upstreamPort) }], fallbackRoot: null } }, fallback: null });
process.stdout.write(`ready ${edge.pid} ${edge.address!.port}\n`);
setInterval(() => {}, 60_000);
