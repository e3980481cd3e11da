export type { Availability, CacheHitMarker, Contender, RunningServer, StartContext, Upstream } from './contender.ts';
export { berth } from './berth.ts';
export { caddy } from './caddy.ts';
export { nginx } from './nginx.ts';
export { nodeBaseline } from './node-baseline.ts';
