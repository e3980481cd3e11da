import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ApiRouter } from '../api/router.ts';
import { CONTROL_MAX_CONNECTIONS, listenOn } from '../listen.ts';
import { BerthError, isBerthError } from '../errors.ts';
import type { MetricsHistory } from '../metrics/index.ts';
import * as names from '../platform/names.ts';
import type { Platform } from '../platform/platform.ts';
import { loadAssets, type Asset } from './assets.ts';
import { EventStream } from './event-stream.ts';
import { CSRF_HEADER, foreignOrigin, refuseMutation } from './request-guard.ts';
import { readCookie, SESSION_COOKIE, sessionCookie, SessionStore, type Session } from './sessions.ts';
import { releaseView } from '../platform/release-policy.ts';
import { appDetail, appSummary, buildWindow, linesBefore, overview, type DashboardAddons } from './views.ts';

export interface DashboardOptions {
  readonly platform: Platform;
  readonly history: MetricsHistory;
  /** The name of the API token given at login, or null when it is unknown or revoked. */
  readonly authenticate: (token: string) => string | null;
  /** Whether the token named so is still good: a revoked token's sessions end at their next request. */
  readonly tokenActive: (name: string) => boolean;
  readonly log: (line: string) => void;
  readonly sessions?: SessionStore;
  /** Log lines a log tail starts with. */
  readonly tailLines?: number;
  /** The apps' add-ons and backups; without it the pages show none and "Back up now" answers 404. */
  readonly addons?: DashboardAddons;
}

/** Every answer: no script but the dashboard's own files, no framing, no sniffing, no referrer beyond this origin. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it, Chromium sends "Origin: null" on the page's own form posts, which the origin check must refuse.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const MAX_BODY_BYTES = 64 * 1024;
/** How often a live stream checks that its session still holds. */
const STREAM_CHECK_MS = 5_000;

interface Context {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly session: Session;
  readonly secure: boolean;
}

type Handler = (ctx: Context) => Promise<void>;
type OpenHandler = (ctx: Omit<Context, 'session'>) => Promise<void>;

/** 'page': a browser page, sent to /login without a session; 'api': JSON, 401 without one; 'open': no login needed. */
type Route = { readonly access: 'page' | 'api'; readonly handler: Handler } | { readonly access: 'open'; readonly handler: OpenHandler };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      req.resume();
      return reject(new BerthError('BERTH_E_TOO_LARGE', `request body is larger than ${MAX_BODY_BYTES} bytes`, { status: 413 }));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        reject(new BerthError('BERTH_E_TOO_LARGE', `request body is larger than ${MAX_BODY_BYTES} bytes`, { status: 413 }));
      } else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  let value: unknown = {};
  try {
    if (text.trim() !== '') value = JSON.parse(text);
  } catch (err) {
    throw new BerthError('BERTH_E_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`, { status: 400 });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BerthError('BERTH_E_BAD_JSON', 'the request body must be a JSON object', { status: 400 });
  return value as Record<string, unknown>;
}

/**
 * The dashboard: pages for people, served by the daemon on their own
 * listener (`berth server --dashboard HOST:PORT`). A login with an API token
 * opens a session (a cookie); its JSON endpoints under /api/ call the
 * platform directly, with the same validation as the control API and the
 * token's name as the audit actor; live samples and log tails come as
 * Server-Sent Events.
 */
export class DashboardServer {
  readonly #options: DashboardOptions;
  readonly #sessions: SessionStore;
  readonly #router = new ApiRouter<Route>();
  readonly #server: Server;
  /** Open event streams, with the session each belongs to. */
  readonly #streams = new Map<EventStream, string>();
  #assets = new Map<string, Asset>();
  #closing: Promise<void> | null = null;

  constructor(options: DashboardOptions) {
    this.#options = options;
    this.#sessions = options.sessions ?? new SessionStore();
    this.#server = createServer({ requestTimeout: 0, headersTimeout: 10_000 }, (req, res) => void this.#handle(req, res));
    this.#server.maxConnections = CONTROL_MAX_CONNECTIONS.dashboard;
    this.#routes();
  }

  get sessions(): SessionStore {
    return this.#sessions;
  }

  #routes(): void {
    const { platform, history, addons } = this.#options;
    const store = platform.store;
    const appOf = (ctx: Context) => store.getApp(names.appName(ctx.params.app ?? '')).name;
    const page = (handler: Handler): Route => ({ access: 'page', handler });
    const api = (handler: Handler): Route => ({ access: 'api', handler });
    const open = (handler: OpenHandler): Route => ({ access: 'open', handler });
    const shell: Handler = async (ctx) => {
      const html = this.#asset('index.html').body.toString('utf8').replaceAll('__CSRF__', escapeHtml(ctx.session.csrf)).replaceAll('__ACTOR__', escapeHtml(ctx.session.actor));
      this.#send(ctx.res, 200, 'text/html; charset=utf-8', html);
    };

    this.#router
      .add('GET', '/login', open(async (ctx) => this.#loginPage(ctx.req, ctx.res, 200, null)))
      .add('POST', '/login', open(async (ctx) => this.#login(ctx)))
      .add('POST', '/logout', api(async (ctx) => {
        this.#sessions.destroy(ctx.session.id);
        for (const [stream, id] of this.#streams) if (id === ctx.session.id) stream.close();
        ctx.res.setHeader('set-cookie', sessionCookie(null, { secure: ctx.secure, maxAgeMs: 0 }));
        this.#json(ctx.res, 200, { loggedOut: true });
      }))
      .add('GET', '/', page(shell))
      .add('GET', '/apps/:app', page(shell))
      .add('GET', '/assets/:name', open(async (ctx) => this.#serveAsset(ctx.req, ctx.res, ctx.params.name ?? '')))
      .add('GET', '/api/apps', api(async (ctx) => this.#json(ctx.res, 200, overview(platform, history, addons))))
      .add('GET', '/api/apps/:app', api(async (ctx) => this.#json(ctx.res, 200, await appDetail(platform, history, appOf(ctx), addons))))
      .add('GET', '/api/apps/:app/config/:key', api(async (ctx) => {
        const app = appOf(ctx);
        const key = names.configKey(ctx.params.key ?? '');
        const config = store.getConfig(app);
        if (!Object.hasOwn(config, key)) throw new BerthError('BERTH_E_NOT_FOUND', `${app} has no config var ${key}`, { status: 404 });
        this.#json(ctx.res, 200, { key, value: config[key] });
      }))
      .add('GET', '/api/apps/:app/builds/:id/log', api(async (ctx) => {
        const app = appOf(ctx);
        const id = Number(ctx.params.id);
        const window = Number.isSafeInteger(id) ? buildWindow(store.listBuilds(app), id) : null;
        if (window === null) throw new BerthError('BERTH_E_BUILD_NOT_FOUND', `${app} has no build ${ctx.params.id}`, { status: 404 });
        const lines = await platform.logOf(app).recent({ limit: 2_000, process: 'build', since: window.since, grep: null });
        this.#json(ctx.res, 200, { lines: linesBefore(lines, window.until) });
      }))
      .add('POST', '/api/apps/:app/rollback', api(async (ctx) => {
        const app = appOf(ctx);
        const body = await readJsonObject(ctx.req);
        const version = body.version === undefined || body.version === null ? undefined : names.releaseRef(String(body.version));
        const release = await platform.rollback(app, version, ctx.session.actor);
        this.#json(ctx.res, 200, { release: releaseView(release, store.getApp(app).currentVersion) });
      }))
      .add('PUT', '/api/apps/:app/formation', api(async (ctx) => {
        const app = appOf(ctx);
        const body = await readJsonObject(ctx.req);
        const quantities: Record<string, number> = {};
        for (const [type, quantity] of Object.entries(body)) {
          names.processType(type);
          if (typeof quantity !== 'number' || !Number.isInteger(quantity)) throw new BerthError('BERTH_E_SCALE', `${type} must be a whole number`, { status: 400 });
          quantities[type] = quantity;
        }
        this.#json(ctx.res, 200, { formation: await platform.scale(app, quantities, ctx.session.actor) });
      }))
      .add('POST', '/api/apps/:app/backups', api(async (ctx) => {
        const app = appOf(ctx);
        const body = await readJsonObject(ctx.req);
        if (addons === undefined) throw new BerthError('BERTH_E_NOT_FOUND', 'this dashboard has no add-ons to back up', { status: 404 });
        if (body.addon !== undefined && typeof body.addon !== 'string') throw new BerthError('BERTH_E_BAD_JSON', '"addon" must be the add-on\'s kind, e.g. "sqlite"', { status: 400 });
        // Answered when the backup is sealed or has failed (then as an error, and recorded as failed): the page shows the outcome.
        this.#json(ctx.res, 201, { backup: await addons.backup(app, body.addon, ctx.session.actor) });
      }))
      .add('POST', '/api/apps/:app/restart', api(async (ctx) => {
        await platform.restart(appOf(ctx), ctx.session.actor);
        this.#json(ctx.res, 200, { restarted: true });
      }))
      .add('GET', '/api/events', api(async (ctx) => {
        // Every app's step as it closes, with the app's summary of the moment (status, release, instances).
        const stream = this.#stream(ctx);
        const unsubscribe = history.subscribe((app, sample) => {
          let summary;
          try {
            summary = appSummary(platform, app);
          } catch {
            return; // destroyed since
          }
          stream.send('sample', { app, sample, summary });
        });
        stream.onClose(unsubscribe);
      }))
      .add('GET', '/api/apps/:app/logs', api(async (ctx) => {
        const app = appOf(ctx);
        const stream = this.#stream(ctx);
        const stop = await platform.logOf(app).recentThenFollow({ limit: this.#options.tailLines ?? 100, process: null, since: null, grep: null }, (line) => stream.send('log', line));
        stream.onClose(stop);
      }));
  }

  /** An event stream for the session: it ends when the session does (logout at once; expiry or a revoked token within STREAM_CHECK_MS). */
  #stream(ctx: Context): EventStream {
    const stream = new EventStream(ctx.res, SECURITY_HEADERS);
    this.#streams.set(stream, ctx.session.id);
    const check = setInterval(() => {
      if (!this.#stillLoggedIn(ctx.session)) stream.close();
    }, STREAM_CHECK_MS);
    check.unref();
    stream.onClose(() => {
      clearInterval(check);
      this.#streams.delete(stream);
    });
    return stream;
  }

  /** The session still exists and its token was not revoked; unlike a request, a stream's event does not count as use. */
  #stillLoggedIn(session: Session): boolean {
    return this.#sessions.peek(session.id) !== null && this.#options.tokenActive(session.actor);
  }

  #session(req: IncomingMessage): Session | null {
    const session = this.#sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE));
    if (session === null) return null;
    if (!this.#options.tokenActive(session.actor)) {
      this.#sessions.endFor(session.actor);
      return null;
    }
    return session;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const secure = (req.socket as TLSSocket).encrypted === true;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard');
    } catch {
      req.resume();
      return this.#error(res, new BerthError('BERTH_E_NOT_FOUND', 'malformed request target', { status: 400 }));
    }
    const match = this.#router.match(method, url.pathname);
    if (match === null || 'allowed' in match) {
      req.resume();
      if (match !== null) res.setHeader('allow', match.allowed.join(', '));
      return this.#error(res, match === null ? new BerthError('BERTH_E_NOT_FOUND', `nothing at ${url.pathname}`, { status: 404 }) : new BerthError('BERTH_E_METHOD', `${method} is not allowed on ${url.pathname}`, { status: 405 }));
    }
    const route = match.handler;
    const base = { req, res, url, params: match.params, secure };
    let run: () => Promise<void>;
    if (route.access === 'open') run = () => route.handler(base);
    else {
      const session = this.#session(req);
      if (session === null) {
        req.resume();
        if (route.access === 'page') return this.#redirect(res, '/login');
        return this.#error(res, new BerthError('BERTH_E_UNAUTHORIZED', 'not logged in, or the session ended', { status: 401, hint: 'Log in again with an API token.' }));
      }
      const refusal = refuseMutation(
        { method, host: req.headers.host, scheme: secure ? 'https' : 'http', origin: req.headers.origin, secFetchSite: header(req, 'sec-fetch-site'), csrfHeader: header(req, CSRF_HEADER) },
        session.csrf,
      );
      if (refusal !== null) {
        req.resume();
        return this.#error(res, new BerthError('BERTH_E_CSRF', `refused: ${refusal}`, { status: 403, hint: "Use the dashboard's own pages; reload the page if the session was renewed." }));
      }
      run = () => route.handler({ ...base, session });
    }
    try {
      await run();
    } catch (err) {
      if (!req.complete) req.resume();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (!isBerthError(err)) this.#options.log(`dashboard ${method} ${url.pathname} failed: ${(err as Error).stack ?? String(err)}`);
      this.#error(res, err);
    }
  }

  async #login(ctx: Omit<Context, 'session'>): Promise<void> {
    const { req, res } = ctx;
    const foreign = foreignOrigin({ host: req.headers.host, scheme: ctx.secure ? 'https' : 'http', origin: req.headers.origin, secFetchSite: header(req, 'sec-fetch-site') });
    if (foreign !== null) {
      req.resume();
      return this.#error(res, new BerthError('BERTH_E_CSRF', `refused: ${foreign}`, { status: 403 }));
    }
    const form = new URLSearchParams(await readBody(req));
    const actor = this.#options.authenticate((form.get('token') ?? '').trim());
    if (actor === null) return this.#loginPage(req, res, 401, 'That token is not valid (or was revoked).');
    const old = this.#sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE));
    if (old !== null) this.#sessions.destroy(old.id);
    const session = this.#sessions.create(actor);
    this.#options.platform.store.audit({ actor, action: 'dashboard.login', target: 'dashboard', result: 'ok', detail: {} });
    res.setHeader('set-cookie', sessionCookie(session.id, { secure: ctx.secure, maxAgeMs: this.#sessions.limits.maxAgeMs }));
    this.#redirect(res, '/');
  }

  #loginPage(req: IncomingMessage, res: ServerResponse, status: number, error: string | null): void {
    if (status === 200 && this.#session(req) !== null) return this.#redirect(res, '/');
    const message = error === null ? '' : `<p class="error" role="alert" id="login-error">${escapeHtml(error)}</p>`;
    this.#send(res, status, 'text/html; charset=utf-8', this.#asset('login.html').body.toString('utf8').replace('<!--error-->', message));
  }

  #asset(name: string): Asset {
    const asset = this.#assets.get(name);
    if (asset === undefined) throw new BerthError('BERTH_E_NOT_FOUND', `no asset ${name}`, { status: 404 });
    return asset;
  }

  #serveAsset(req: IncomingMessage, res: ServerResponse, name: string): void {
    // The HTML files are templates served through their routes.
    const asset = name.endsWith('.html') ? undefined : this.#assets.get(name);
    if (asset === undefined) return this.#error(res, new BerthError('BERTH_E_NOT_FOUND', `no asset ${name}`, { status: 404 }));
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, { ...SECURITY_HEADERS, etag: asset.etag, 'cache-control': 'no-cache' });
      res.end();
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': asset.body.length, etag: asset.etag, 'cache-control': 'no-cache' });
    res.end(asset.body);
  }

  #send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    this.#send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
  }

  #error(res: ServerResponse, err: unknown): void {
    if (isBerthError(err)) return this.#json(res, err.status, err.hint === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, hint: err.hint });
    this.#json(res, 500, { code: 'BERTH_E_INTERNAL', message: 'internal error; the daemon log has the details' });
  }

  #redirect(res: ServerResponse, location: string): void {
    res.writeHead(303, { ...SECURITY_HEADERS, location, 'cache-control': 'no-store', 'content-length': 0 });
    res.end();
  }

  /** Reads the dashboard's files, then listens. */
  async listen(host: string | undefined, port: number): Promise<AddressInfo> {
    this.#assets = await loadAssets();
    return listenOn(this.#server, host, port);
  }

  /** Ends the live streams and stops listening; idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      for (const stream of [...this.#streams.keys()]) stream.close();
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      // A connection kept alive past its last answer would hold close() up for its keep-alive timeout.
      setTimeout(() => this.#server.closeAllConnections(), 1_000).unref();
    });
    return this.#closing;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
