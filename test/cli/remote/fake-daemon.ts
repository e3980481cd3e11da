import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { unpackSource } from '../../../src/build/index.ts';
import { isBerthError } from '../../../src/errors.ts';

/**
 * A stand-in for `berth server`'s control API (docs/API.md), for the CLI's
 * own tests: a real HTTP server on 127.0.0.1:0 with in-memory state, the
 * API's statuses and `{code, message, hint}` bodies, and hooks to make a
 * deploy or a log stream misbehave. The end-to-end tests run the real daemon.
 */

export const GOOD_TOKEN = 'berth_test_token_0123456789';

interface FakeRelease {
  version: number;
  name: string;
  kind: 'deploy' | 'config' | 'rollback';
  description: string;
  status: 'pending' | 'succeeded' | 'failed' | 'pruned';
  createdAt: string;
  current: boolean;
  configKeys: string[];
}

interface FakeApp {
  name: string;
  createdAt: string;
  releases: FakeRelease[];
  config: Record<string, string>;
  formation: Record<string, number>;
  domains: string[];
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** What a deploy handler is given: the upload, still to be read (as the daemon does, after its answer starts), and the answer to stream into. */
export interface DeployCall {
  readonly app: string;
  readonly upload: () => Promise<Buffer>;
  readonly headers: IncomingMessage['headers'];
  readonly res: ServerResponse;
}

export interface LogsCall {
  readonly app: string;
  readonly query: URLSearchParams;
  readonly res: ServerResponse;
}

export interface FakeDaemon {
  readonly url: string;
  readonly apps: Map<string, FakeApp>;
  readonly requests: RecordedRequest[];
  /** Replace to change what a deploy answers; the default unpacks the upload and releases it. */
  deploy: (call: DeployCall) => Promise<void>;
  /** Replace to change the log stream; the default writes three lines and ends (or stays open with follow=1). */
  logs: (call: LogsCall) => Promise<void>;
  /** Files of the last upload the default deploy unpacked. */
  lastUpload: { files: number; bytes: number } | null;
  close(): Promise<void>;
}

const NOW = '2026-01-02T03:04:05.678Z';

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res: ServerResponse, status: number, code: string, message: string, hint?: string): void {
  send(res, status, hint === undefined ? { code, message } : { code, message, hint });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function appJson(app: FakeApp) {
  const current = app.releases.find((r) => r.current);
  return { name: app.name, createdAt: app.createdAt, url: `http://${app.name}.localhost`, currentRelease: current?.name ?? null };
}

function addRelease(app: FakeApp, kind: FakeRelease['kind'], description: string): FakeRelease {
  for (const release of app.releases) release.current = false;
  const version = app.releases.length + 1;
  const release: FakeRelease = { version, name: `v${version}`, kind, description, status: 'succeeded', createdAt: NOW, current: true, configKeys: Object.keys(app.config).sort() };
  app.releases.unshift(release);
  return release;
}

export async function startFakeDaemon(t: { after(fn: () => unknown): void }): Promise<FakeDaemon> {
  const apps = new Map<string, FakeApp>();
  const tokens = new Map<string, { name: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null }>([
    ['admin', { name: 'admin', createdAt: NOW, lastUsedAt: NOW, revokedAt: null }],
  ]);
  const requests: RecordedRequest[] = [];

  const daemon: FakeDaemon = {
    url: '',
    apps,
    requests,
    lastUpload: null,
    async deploy({ app, upload, headers, res }) {
      const dir = await mkdtemp(join(tmpdir(), 'berth-fake-upload-'));
      // Like the daemon: the answer starts at once, the upload is read while it streams.
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.write('-----> receiving\n');
      try {
        daemon.lastUpload = await unpackSource(Readable.from([await upload()]), dir);
        res.write(`-----> received ${daemon.lastUpload.files} files\n`);
        res.write('-----> building\n');
        const description = typeof headers['x-berth-description'] === 'string' ? headers['x-berth-description'] : 'Deploy';
        const release = addRelease(apps.get(app)!, 'deploy', description);
        res.end(`${JSON.stringify({ result: 'ok', release })}\n`);
      } catch (err) {
        const error = isBerthError(err) ? { code: err.code, message: err.message, hint: err.hint } : { code: 'BERTH_E_INTERNAL', message: 'internal error' };
        res.end(`${JSON.stringify({ error })}\n`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async logs({ query, res }) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      const lines = ['2026-01-02T03:04:05.000Z web.1 | listening', '2026-01-02T03:04:06.000Z web.1 | GET / 200', '2026-01-02T03:04:07.000Z worker.1 | tick'];
      const process = query.get('process');
      const wanted = lines.filter((line) => process === null || line.includes(` ${process}.`)).slice(-Number(query.get('lines') ?? 100));
      for (const line of wanted) res.write(`${line}\n`);
      if (query.get('follow') !== '1') return void res.end();
      // Following: stays open until the client goes away.
      await new Promise<void>((resolve) => res.once('close', () => resolve()));
    },
    close: async () => {},
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization ?? '';
    const isDeploy = method === 'POST' && /^\/apps\/[^/]+\/deploy$/.test(url.pathname);
    const upload = isDeploy ? Buffer.alloc(0) : await readBody(req);
    requests.push({ method, url: req.url ?? '/', headers: req.headers, body: upload.toString('utf8') });
    if (auth !== `Bearer ${GOOD_TOKEN}`) {
      req.resume();
      return fail(res, 401, 'BERTH_E_UNAUTHORIZED', auth === '' ? 'an API token is required' : 'the API token is not valid', 'Log in with `berth login --server URL --token TOKEN` (or set BERTH_TOKEN).');
    }
    const json = (): Record<string, unknown> => (upload.length === 0 ? {} : (JSON.parse(upload.toString('utf8')) as Record<string, unknown>));
    const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
    const route = `${method} /${parts.map((p, i) => (i === 1 && parts[0] === 'apps' ? ':app' : i === 3 && parts[2] === 'domains' ? ':host' : i === 1 && parts[0] === 'tokens' ? ':name' : p)).join('/')}`;
    const app = parts[0] === 'apps' && parts[1] !== undefined ? apps.get(parts[1]) : undefined;
    if (parts[0] === 'apps' && parts[1] !== undefined && app === undefined) {
      req.resume();
      return fail(res, 404, 'BERTH_E_APP_NOT_FOUND', `no app is named ${parts[1]}`, 'Check `berth apps list`.');
    }
    switch (route) {
      case 'GET /apps':
        return send(res, 200, { apps: [...apps.values()].map(appJson) });
      case 'POST /apps': {
        const name = String(json().name);
        if (apps.has(name)) return fail(res, 409, 'BERTH_E_APP_EXISTS', `an app named ${name} already exists`, 'Pick another name.');
        const created: FakeApp = { name, createdAt: NOW, releases: [], config: {}, formation: {}, domains: [] };
        apps.set(name, created);
        return send(res, 201, { app: appJson(created) });
      }
      case 'GET /apps/:app':
        return send(res, 200, {
          app: appJson(app!),
          release: app!.releases.find((r) => r.current) ?? null,
          formation: app!.formation,
          domains: app!.domains,
          instances: Object.entries(app!.formation).flatMap(([type, n]) =>
            Array.from({ length: n }, (_, i) => ({ name: `${type}.${i + 1}`, state: 'ready', pid: 1000 + i, port: 9000 + i, release: app!.releases.find((r) => r.current)?.name ?? null })),
          ),
          disk: { usedBytes: 1_572_864, limitBytes: 10 * 1024 ** 3, parts: { releases: 1_048_576, cache: 0, home: 0, data: 0, logs: 524_288 }, measuredAt: NOW, overLimit: false },
          sandbox: { contained: false, reason: 'berth is not running as root' },
        });
      case 'DELETE /apps/:app':
        if (url.searchParams.get('confirm') !== app!.name) return fail(res, 400, 'BERTH_E_USAGE', `destroying ${app!.name} needs confirm=${app!.name}`);
        apps.delete(app!.name);
        return send(res, 200, { destroyed: app!.name });
      case 'POST /apps/:app/deploy':
        return daemon.deploy({ app: app!.name, upload: () => readBody(req), headers: req.headers, res });
      case 'GET /apps/:app/releases':
        return send(res, 200, { releases: app!.releases });
      case 'POST /apps/:app/rollback': {
        const version = json().version;
        const target = version === undefined ? app!.releases.find((r) => !r.current && r.status === 'succeeded') : app!.releases.find((r) => r.version === version);
        if (target === undefined) return fail(res, 409, 'BERTH_E_ROLLBACK', 'there is nothing to roll back to');
        return send(res, 200, { release: addRelease(app!, 'rollback', `Rollback to ${target.name}`) });
      }
      case 'GET /apps/:app/config': {
        const reveal = url.searchParams.get('reveal') === '1';
        return send(res, 200, { config: Object.fromEntries(Object.entries(app!.config).map(([k, v]) => [k, reveal ? v : null])) });
      }
      case 'PATCH /apps/:app/config': {
        const body = json() as { set?: Record<string, string>; unset?: string[] };
        Object.assign(app!.config, body.set ?? {});
        for (const key of body.unset ?? []) delete app!.config[key];
        return send(res, 200, { release: addRelease(app!, 'config', `Config change`) });
      }
      case 'PUT /apps/:app/formation':
        Object.assign(app!.formation, json());
        return send(res, 200, { formation: app!.formation });
      case 'GET /apps/:app/ps':
        return send(res, 200, { instances: [{ name: 'web.1', state: 'ready', pid: 4242, port: 9001, release: 'v1' }, { name: 'web.2', state: 'crashed', port: null, release: 'v1' }] });
      case 'POST /apps/:app/restart':
        return send(res, 200, { restarted: true });
      case 'GET /apps/:app/logs':
        return daemon.logs({ app: app!.name, query: url.searchParams, res });
      case 'GET /apps/:app/domains':
        return send(res, 200, { domains: app!.domains });
      case 'POST /apps/:app/domains':
        app!.domains.push(String(json().hostname));
        return send(res, 201, { domains: app!.domains });
      case 'DELETE /apps/:app/domains/:host': {
        const at = app!.domains.indexOf(parts[3]!);
        if (at === -1) return fail(res, 404, 'BERTH_E_DOMAIN_NOT_FOUND', `${app!.name} has no domain ${parts[3]}`);
        app!.domains.splice(at, 1);
        return send(res, 200, { domains: app!.domains });
      }
      case 'GET /tokens':
        return send(res, 200, { tokens: [...tokens.values()] });
      case 'POST /tokens': {
        const name = String(json().name);
        if (tokens.has(name)) return fail(res, 409, 'BERTH_E_TOKEN_EXISTS', `a token named ${name} exists`);
        tokens.set(name, { name, createdAt: NOW, lastUsedAt: null, revokedAt: null });
        return send(res, 201, { token: `berth_new_${name}_secret`, name });
      }
      case 'DELETE /tokens/:name': {
        const token = tokens.get(parts[1]!);
        if (token === undefined) return fail(res, 404, 'BERTH_E_TOKEN_NOT_FOUND', `no token is named ${parts[1]}`);
        token.revokedAt = NOW;
        return send(res, 200, { revoked: token.name });
      }
      default:
        return fail(res, 404, 'BERTH_E_NOT_FOUND', `no API route ${method} ${url.pathname}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  daemon.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  (daemon as { url: string }).url = `http://127.0.0.1:${port}`;
  t.after(() => daemon.close());
  return daemon;
}
