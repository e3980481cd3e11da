import { createStaticSite, unavailableSite, type StaticSite } from './static/index.ts';
import type { RouteTable, SiteRoutes } from './router.ts';
import { UpstreamGroup, type UpstreamAddress } from './upstream-group.ts';

/**
 * Who a site's static files belong to, applied to every static root of the
 * site (its mounts and its fallback root): what an app's folders may hold is
 * the app's to decide, and the app may change them at any moment.
 */
export interface StaticAccess {
  /** Every root must resolve to a folder inside this one (the release's build folder); canonical, compared as given. */
  readonly confine: string | null;
  /** Only files owned by this uid (the app's), or readable by others, are served. */
  readonly owner: number | null;
}

/**
 * The routing state as plain data: what the control plane (runner,
 * platform) says, and what crosses to the edge's worker threads. Each
 * thread turns it into live objects (static sites with their caches,
 * upstream groups with their connection pools) with a RouteBuilder.
 */
export interface SiteSpec {
  /** Names this site across updates, so its pools and caches are kept (the app name). */
  readonly key: string;
  readonly mounts: ReadonlyArray<{ readonly prefix: string; readonly root: string }>;
  /** The app's ready web instances; null for a site without processes. */
  readonly upstreams: readonly UpstreamAddress[] | null;
  /** Serves every path the mounts and upstreams do not: a static site's root. */
  readonly fallbackRoot: string | null;
  /** The app's request body limit; absent or null uses the edge's. */
  readonly maxBodyBytes?: number | null;
  /** Strict-Transport-Security value sent on HTTPS answers (berth.toml [https] hsts); absent or null: none. */
  readonly hsts?: string | null;
  /** False keeps plain HTTP for hosts with a trusted certificate; absent or true redirects (308). */
  readonly httpsRedirect?: boolean;
  /** Requests per second per client address, with a burst; absent or null: no limit. */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number } | null;
  /** Requests in flight at once per client address; absent or null: no limit. */
  readonly connectionsPerClient?: number | null;
  /** The edge caches what the app marks cacheable; absent or true: on. */
  readonly cache?: boolean;
  /** Confinement and owner of the static roots; absent or null: any folder, any file (berth up, file-server). */
  readonly staticAccess?: StaticAccess | null;
}

/** The per-site settings of a SiteSpec, apart from what it serves. */
export type SiteSettings = Pick<SiteSpec, 'maxBodyBytes' | 'hsts' | 'httpsRedirect' | 'rateLimit' | 'connectionsPerClient' | 'cache' | 'staticAccess'>;

export interface RouteSpec {
  /** Lower-case host name → site. */
  readonly hosts: Readonly<Record<string, SiteSpec>>;
  /** For requests whose host matches nothing; null answers them 404. */
  readonly fallback: SiteSpec | null;
}

/** A spec turned into live objects, not yet in force. */
export interface PreparedRoutes {
  readonly table: RouteTable;
  /** Membership changes to apply at the moment the table comes into force. */
  readonly memberships: ReadonlyArray<{ readonly group: UpstreamGroup; readonly addresses: readonly UpstreamAddress[] }>;
}

/**
 * Builds route tables for one thread, reusing what survives an update:
 * a static site per root (its file and compression caches), an upstream
 * group per site key (its keep-alive connections and health state).
 *
 * A static root that cannot be served (missing, not a folder, leading out
 * of its confinement) never fails the table: that site answers 404, the
 * rest of the table comes into force, and the root is looked at again on
 * the next update. Otherwise one app that deletes its static folder would
 * block every other app's routes.
 */
export class RouteBuilder {
  #sites = new Map<string, Promise<StaticSite>>();
  #groups = new Map<string, UpstreamGroup>();
  /** Roots that could not be served, with the reason last logged. */
  readonly #unavailable = new Map<string, string>();
  readonly #log: ((line: string) => void) | null;

  /** `log` hears once about each root that cannot be served (give it to one thread's builder only). */
  constructor(options: { log?: (line: string) => void } = {}) {
    this.#log = options.log ?? null;
  }

  #site(root: string, access: StaticAccess | null): { key: string; site: Promise<StaticSite> } {
    const key = access === null ? root : `${root}\0${access.confine ?? ''}\0${access.owner ?? ''}`;
    let site = this.#sites.get(key);
    if (site === undefined) {
      site = createStaticSite({ root, confine: access?.confine ?? null, owner: access?.owner ?? null }).then(
        (created) => {
          this.#unavailable.delete(key);
          return created;
        },
        (err: Error) => {
          // Not kept: the next update looks again.
          this.#sites.delete(key);
          if (this.#unavailable.get(key) !== err.message) this.#log?.(`static files of ${root} are not served (404): ${err.message}`);
          this.#unavailable.set(key, err.message);
          return unavailableSite(root, err.message);
        },
      );
      this.#sites.set(key, site);
    }
    return { key, site };
  }

  /** Resolves every root and group of the spec. A root that cannot be served makes its site answer 404; nothing else fails. */
  async prepare(spec: RouteSpec): Promise<PreparedRoutes> {
    const memberships: Array<{ group: UpstreamGroup; addresses: readonly UpstreamAddress[] }> = [];
    const usedRoots = new Set<string>();
    const usedKeys = new Set<string>();
    const build = async (site: SiteSpec): Promise<SiteRoutes> => {
      const access = site.staticAccess ?? null;
      const staticSite = (root: string): Promise<StaticSite> => {
        const found = this.#site(root, access);
        usedRoots.add(found.key);
        return found.site;
      };
      const mounts = await Promise.all(site.mounts.map(async (mount) => ({ prefix: mount.prefix, site: await staticSite(mount.root) })));
      let upstreams: UpstreamGroup | null = null;
      if (site.upstreams !== null) {
        usedKeys.add(site.key);
        upstreams = this.#groups.get(site.key) ?? new UpstreamGroup();
        this.#groups.set(site.key, upstreams);
        memberships.push({ group: upstreams, addresses: site.upstreams });
      }
      const fallback = site.fallbackRoot === null ? null : await staticSite(site.fallbackRoot);
      return {
        key: site.key,
        mounts,
        upstreams,
        fallback,
        maxBodyBytes: site.maxBodyBytes ?? null,
        hsts: site.hsts ?? null,
        httpsRedirect: site.httpsRedirect ?? true,
        rateLimit: site.rateLimit ?? null,
        connectionsPerClient: site.connectionsPerClient ?? null,
        cache: site.cache ?? true,
      };
    };
    const hosts = new Map<string, SiteRoutes>();
    // Sites shared by several host names are built once.
    const built = new Map<SiteSpec, Promise<SiteRoutes>>();
    const siteFor = (spec: SiteSpec) => {
      let routes = built.get(spec);
      if (routes === undefined) {
        routes = build(spec);
        built.set(spec, routes);
      }
      return routes;
    };
    for (const [host, site] of Object.entries(spec.hosts)) hosts.set(host.toLowerCase(), await siteFor(site));
    const fallbackSite = spec.fallback === null ? null : await siteFor(spec.fallback);
    // Forget what the new spec no longer names, so removed apps free their caches.
    for (const key of this.#sites.keys()) if (!usedRoots.has(key)) this.#sites.delete(key);
    for (const key of this.#unavailable.keys()) if (!usedRoots.has(key)) this.#unavailable.delete(key);
    for (const [key, group] of this.#groups) {
      if (!usedKeys.has(key)) {
        memberships.push({ group, addresses: [] });
        this.#groups.delete(key);
      }
    }
    return { table: { hosts, fallbackSite }, memberships };
  }

  /** Brings a prepared table into force: call in one synchronous step with the table swap. */
  static apply(prepared: PreparedRoutes): RouteTable {
    for (const { group, addresses } of prepared.memberships) group.set(addresses);
    return prepared.table;
  }

  /** Every live group, for draining and shutdown. */
  groups(): UpstreamGroup[] {
    return [...this.#groups.values()];
  }
}
