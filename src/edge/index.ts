// The edge's door: the web server and reverse proxy in front of every app.
export { Edge, type EdgeOptions } from './edge-server.ts';
export type { EdgeControl } from './edge-control.ts';
export { DEFAULT_EDGE_LIMITS, resolveEdgeLimits, type EdgeLimits } from './engine/limits.ts';
export { UpstreamGroup, type UpstreamAddress } from './upstream-group.ts';
export { route, hostName, type RouteTable, type SiteRoutes, type Route } from './router.ts';
export { RouteBuilder, type RouteSpec, type SiteSpec, type SiteSettings, type StaticAccess } from './route-spec.ts';
export type { TlsConfig, TlsCertificate } from './engine/tls-state.ts';
export { Engine, type EngineOptions } from './engine/engine.ts';
export { pickUpstream, type Candidate } from './balancer.ts';
export { markFailed, recordProbe, probeDue, HEALTHY, DEFAULT_HEALTH_POLICY, type UpstreamHealth, type HealthPolicy } from './upstream-health.ts';
export { createStaticSite, resolveStaticRoot, type StaticSite } from './static/index.ts';
export { DURATION_BUCKETS, durationBucket, type ObservationBatch, type ExchangeRecord, type SiteCounters } from './engine/observations.ts';
