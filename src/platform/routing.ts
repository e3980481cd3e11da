import type { RouteSpec, SiteSpec } from '../edge/index.ts';

/** What the edge needs to know about one app to route to it. */
export interface AppRouting {
  readonly name: string;
  /** Custom domains added with `berth domains add`. */
  readonly domains: readonly string[];
  /** The serving release's site (null before the first release or while stopped). */
  readonly site: Omit<SiteSpec, 'key'> | null;
}

/**
 * The edge's routes for every app: `NAME.BASE` plus the app's own domains.
 * An app without a serving release gets no routes, so its hosts answer 404
 * like an unknown host rather than reaching anything else. Pure.
 */
export function routeSpecFor(apps: readonly AppRouting[], baseDomain: string): RouteSpec {
  const hosts: Record<string, SiteSpec> = {};
  for (const app of apps) {
    if (app.site === null) continue;
    const site: SiteSpec = { key: app.name, ...app.site };
    hosts[`${app.name}.${baseDomain}`] = site;
    for (const domain of app.domains) hosts[domain] = site;
  }
  return { hosts, fallback: null };
}


/**
 * The URL berth gives for an app: `http://NAME.BASE`, with the edge's port
 * when it is not HTTP's default (`--http :8080` gives
 * `http://shop.localhost:8080`), since a URL without it leads nowhere.
 * `edgePort` is null before the edge listens. Pure.
 */
export function appUrl(app: string, baseDomain: string, edgePort: number | null): string {
  return `http://${app}.${baseDomain}${edgePort === null || edgePort === 80 ? '' : `:${edgePort}`}`;
}
