import { stripMount, type StaticSite } from './static/index.ts';
import type { UpstreamGroup } from './upstream-group.ts';

/** What the edge does for one site (an app, or the single site of `berth up`). */
export interface SiteRoutes {
  /** The site's name across updates (the app name): keys its cache and its clients' limits. */
  readonly key?: string;
  /** Path prefixes the edge serves from disk itself; longest prefix first. */
  readonly mounts: ReadonlyArray<{ readonly prefix: string; readonly site: StaticSite }>;
  /** The app's web instances, or null for a site without processes. */
  readonly upstreams: UpstreamGroup | null;
  /** Serves every path not matched above (a static site). */
  readonly fallback: StaticSite | null;
  /** The app's own request body limit, when it sets one (berth.toml [limits] max_body). */
  readonly maxBodyBytes?: number | null;
  /** The Strict-Transport-Security value for HTTPS answers, when the app opted in. */
  readonly hsts?: string | null;
  /** False when the app keeps plain HTTP even with a trusted certificate (berth.toml [https] redirect). */
  readonly httpsRedirect?: boolean;
  /** Requests per second per client address, with a burst (berth.toml [limits] rate, burst). */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number } | null;
  /** Requests in flight per client address (berth.toml [limits] connections). */
  readonly connectionsPerClient?: number | null;
  /** Whether the edge caches this site's cacheable responses (berth.toml [cache] enabled). */
  readonly cache?: boolean;
}

/**
 * The edge's whole routing state. It is immutable and replaced as one value,
 * so a request sees either the old table or the new one, never a mixture.
 */
export interface RouteTable {
  readonly hosts: ReadonlyMap<string, SiteRoutes>;
  /** Used when no host matches; null means "404 for unknown hosts". */
  readonly fallbackSite: SiteRoutes | null;
}

export type Route =
  | { readonly kind: 'static'; readonly site: StaticSite; readonly target: string; readonly owner: SiteRoutes }
  | { readonly kind: 'proxy'; readonly upstreams: UpstreamGroup; readonly maxBodyBytes: number | null; readonly owner: SiteRoutes }
  | { readonly kind: 'not-found' };

/** The host name without port, lower-cased; brackets kept for IPv6 literals. */
export function hostName(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let end = hostHeader.length;
  if (hostHeader.charCodeAt(0) === 91 /* [ */) {
    const close = hostHeader.indexOf(']');
    end = close === -1 ? end : close + 1;
  } else {
    const colon = hostHeader.lastIndexOf(':');
    if (colon !== -1) end = colon;
  }
  return hostHeader.slice(0, end).toLowerCase();
}

export function route(table: RouteTable, hostHeader: string | undefined, target: string): Route {
  const site = table.hosts.get(hostName(hostHeader)) ?? table.fallbackSite;
  if (!site) return { kind: 'not-found' };
  for (const mount of site.mounts) {
    const rest = stripMount(mount.prefix, target);
    if (rest !== null) return { kind: 'static', site: mount.site, target: rest, owner: site };
  }
  if (site.upstreams) return { kind: 'proxy', upstreams: site.upstreams, maxBodyBytes: site.maxBodyBytes ?? null, owner: site };
  if (site.fallback) return { kind: 'static', site: site.fallback, target, owner: site };
  return { kind: 'not-found' };
}
