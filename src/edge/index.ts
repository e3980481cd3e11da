// The edge's door: the web server and reverse proxy in front of every app.
export { Edge, DEFAULT_EDGE_LIMITS, type EdgeLimits, type EdgeOptions } from './edge-server.ts';
export { UpstreamGroup, type UpstreamAddress } from './upstream-group.ts';
export { route, hostName, type RouteTable, type SiteRoutes, type Route } from './router.ts';
export { pickUpstream, type Candidate } from './balancer.ts';
export { markFailed, recordProbe, probeDue, HEALTHY, DEFAULT_HEALTH_POLICY, type UpstreamHealth, type HealthPolicy } from './upstream-health.ts';
export { upstreamRequestHeaders, clientResponseHeaders, isHopByHop } from './forwarded-headers.ts';
export { createStaticSite, type StaticSite } from './static/index.ts';
