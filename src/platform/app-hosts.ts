import type { EdgeControl, SiteSpec } from '../edge/index.ts';
import { BerthError } from '../errors.ts';
import type { DomainCertificate } from '../tls/index.ts';
import { audited, auditedAsync } from './audit.ts';
import * as names from './names.ts';
import { appUrl, routeSpecFor } from './routing.ts';
import type { Store } from './store.ts';

// Where apps answer: each app's NAME.BASE and the domains added to it, the
// edge's routes for all of them (published again whenever a domain or an
// app's site changes), their certificates, and purging the edge's cache of
// an app's hosts. The routes themselves are decided purely in routing.ts.

/** What the platform needs of the edge's certificates (EdgeCertificates). */
export interface DomainCertificates {
  setHosts(hosts: Iterable<string>): Promise<void>;
  status(host: string): DomainCertificate;
  /** The local CA's root, PEM. */
  readonly rootPem: string;
}

/** A domain with its certificate, for `berth domains list`. */
export interface DomainDetail {
  readonly hostname: string;
  /** The name as people read it (IDNA decoded). */
  readonly display: string;
  /** True for the app's own NAME.BASE. */
  readonly own: boolean;
  /** Null when the edge serves no HTTPS. */
  readonly certificate: DomainCertificate | null;
}

export interface AppHostsOptions {
  readonly store: Store;
  readonly edge: Pick<EdgeControl, 'setRoutes' | 'purge' | 'address'>;
  /** Apps are reachable at NAME.BASE. */
  readonly baseDomain: string;
  readonly certificates: DomainCertificates | null;
  /** What the edge serves for the app now (null: nothing serves). */
  readonly site: (app: string) => Omit<SiteSpec, 'key'> | null;
  readonly log: (line: string) => void;
}

export class AppHosts {
  readonly #options: AppHostsOptions;

  constructor(options: AppHostsOptions) {
    this.#options = options;
  }

  #held = false;

  /**
   * Holds every publication back until `release()`: while a starting daemon
   * takes running instances over, an edge that outlived the last daemon
   * keeps the routes it has, and gets one whole table once every app that
   * serves is accounted for (never one with some apps still missing).
   */
  hold(): void {
    this.#held = true;
  }

  /** Ends the hold and publishes once. */
  release(): Promise<void> {
    this.#held = false;
    return this.publishRoutes();
  }

  /** Tells the edge every app's routes, and the certificates every host. */
  publishRoutes(): Promise<void> {
    if (this.#held) return Promise.resolve();
    const { store, baseDomain, certificates } = this.#options;
    const domains = new Map<string, string[]>();
    for (const domain of store.listDomains()) {
      const list = domains.get(domain.app) ?? [];
      list.push(domain.hostname);
      domains.set(domain.app, list);
    }
    const apps = store.listApps().map((app) => ({ name: app.name, domains: domains.get(app.name) ?? [], site: this.#options.site(app.name) }));
    const spec = routeSpecFor(apps, baseDomain);
    // Every app host and domain gets its certificate, serving or not, so a
    // new app's first release is reachable over HTTPS as soon as it serves.
    if (certificates) {
      const hosts = apps.flatMap((app) => [`${app.name}.${baseDomain}`, ...app.domains]);
      certificates.setHosts(hosts).catch((err: Error) => this.#options.log(`certificates: ${err.message}`));
    }
    return this.#options.edge.setRoutes(spec);
  }

  /** Where the app answers: its host under the base domain, with the edge's port unless it is HTTP's own (80). */
  url(app: string): string {
    return appUrl(app, this.#options.baseDomain, this.#options.edge.address?.port ?? null);
  }

  async addDomain(app: string, hostname: string, actor: string): Promise<string[]> {
    const { store, baseDomain } = this.#options;
    const host = names.domainName(hostname);
    if (host.endsWith(`.${baseDomain}`) && host !== `${app}.${baseDomain}`) {
      throw new BerthError('BERTH_E_DOMAIN_TAKEN', `${host} is under the platform's base domain ${baseDomain}`, { status: 409, hint: `Apps get NAME.${baseDomain} automatically; add a domain of your own.` });
    }
    audited(store, actor, 'domains.add', app, () => store.addDomain(app, host), { hostname: host });
    await this.publishRoutes();
    return this.domains(app);
  }

  async removeDomain(app: string, value: string, actor: string): Promise<string[]> {
    const { store } = this.#options;
    const hostname = names.domainName(value);
    audited(store, actor, 'domains.remove', app, () => store.removeDomain(app, hostname), { hostname });
    await this.publishRoutes();
    return this.domains(app);
  }

  domains(app: string): string[] {
    this.#options.store.getApp(app);
    return this.#options.store.listDomains(app).map((d) => d.hostname);
  }

  /**
   * Drops the edge's cached responses for the app (all its hosts): all of
   * them, or those under `path` (a path prefix on a segment boundary; with
   * a query, that one target). Resolves with how many went.
   */
  async purgeCache(app: string, path: string | null, actor: string): Promise<number> {
    this.#options.store.getApp(app);
    const prefix = path === null ? null : names.urlPath(path);
    const hosts = [`${app}.${this.#options.baseDomain}`, ...this.domains(app)];
    return auditedAsync(this.#options.store, actor, 'cache.purge', app, () => this.#options.edge.purge(hosts, prefix), prefix === null ? {} : { path: prefix });
  }

  /** The local CA's root certificate (PEM), for trusting NAME.localhost in a browser. */
  localCaRoot(): string {
    const certificates = this.#options.certificates;
    if (certificates === null) throw new BerthError('BERTH_E_HTTPS_OFF', 'this server serves no HTTPS, so it uses no local CA', { status: 409, hint: 'Start the server with --https HOST:PORT (e.g. --https :443).' });
    return certificates.rootPem;
  }

  /** The app's own NAME.BASE and its domains, each with its certificate state. */
  domainDetails(app: string): DomainDetail[] {
    const certificates = this.#options.certificates;
    const detail = (hostname: string, own: boolean): DomainDetail => ({
      hostname,
      display: names.domainDisplayName(hostname),
      own,
      certificate: certificates === null ? null : certificates.status(hostname),
    });
    return [detail(`${app}.${this.#options.baseDomain}`, true), ...this.domains(app).map((host) => detail(host, false))];
  }
}
