import { parseSize } from '../units.ts';
import { BerthError } from '../errors.ts';
import type { DiskStatus } from '../disk/index.ts';
import type { Platform } from '../platform/platform.ts';
import { accessLineFormatter, parseAccessFormat } from '../platform/access-log.ts';
import { formatLogLine, type LogLine } from '../platform/app-log.ts';
import { lineMatches, logQueryFromParams, mergeLogLines } from '../platform/app-log-query.ts';
import * as names from '../platform/names.ts';
import { releaseView } from '../platform/release-policy.ts';
import type { ApiRequest, ApiServer } from './api-server.ts';

/** Uploads larger than this are refused before unpacking starts. */
const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BerthError('BERTH_E_BAD_JSON', `${what} must be a JSON object`, { status: 400 });
  }
  return value as Record<string, unknown>;
}

function stringRecord(value: unknown, what: string): Record<string, string> {
  const record = object(value ?? {}, what);
  for (const [key, item] of Object.entries(record)) {
    if (typeof item !== 'string') throw new BerthError('BERTH_E_BAD_JSON', `${what}.${key} must be a string`, { status: 400 });
  }
  return record as Record<string, string>;
}

/** An app's disk as the API shows it: bytes used by part, the limit, and whether its instances are stopped for it. */
function diskView(status: DiskStatus) {
  return {
    usedBytes: status.usage?.totalBytes ?? null,
    limitBytes: status.limitBytes,
    parts: status.usage?.parts ?? null,
    measuredAt: status.usage === null ? null : new Date(status.usage.measuredAt).toISOString(),
    overLimit: status.state === 'over',
  };
}

/** The API routes of docs/API.md, each a thin translation to a Platform call. */
export function registerPlatformRoutes(api: ApiServer, platform: Platform): void {
  const store = platform.store;
  const appOf = (req: ApiRequest) => store.getApp(names.appName(req.params.app ?? ''));
  const appJson = (name: string) => {
    const app = store.getApp(name);
    return { name: app.name, createdAt: app.createdAt, url: platform.url(app.name), currentRelease: app.currentVersion === null ? null : `v${app.currentVersion}` };
  };

  api.router
    .add('GET', '/apps', async () => ({ body: { apps: store.listApps().map((app) => appJson(app.name)) } }))
    .add('POST', '/apps', async (req) => {
      const body = object(await req.json(), 'the request body');
      if (typeof body.name !== 'string') throw new BerthError('BERTH_E_NAME', 'an app needs a "name"', { status: 400 });
      const app = await platform.createApp(body.name, req.actor);
      return { status: 201, body: { app: appJson(app.name) } };
    })
    .add('GET', '/apps/:app', async (req) => {
      const app = appOf(req);
      const current = store.currentRelease(app.name);
      return {
        body: {
          app: appJson(app.name),
          release: current === null ? null : releaseView(current, app.currentVersion),
          formation: platform.formation(app.name),
          domains: platform.domains(app.name),
          instances: await platform.instances(app.name),
          disk: diskView(platform.diskStatus(app.name).usage === null ? await platform.checkDisk(app.name) : platform.diskStatus(app.name)),
          sandbox: platform.uncontainedReason === null ? { contained: true } : { contained: false, reason: platform.uncontainedReason },
        },
      };
    })
    .add('DELETE', '/apps/:app', async (req) => {
      const app = appOf(req);
      if (req.query.get('confirm') !== app.name) {
        throw new BerthError('BERTH_E_USAGE', `destroying ${app.name} needs confirm=${app.name}`, { status: 400, hint: `berth apps destroy ${app.name} --confirm ${app.name}` });
      }
      await platform.destroyApp(app.name, req.actor);
      return { body: { destroyed: app.name } };
    })
    .add('POST', '/apps/:app/deploy', async (req) => {
      const app = appOf(req);
      const declared = Number(req.raw.headers['content-length'] ?? 0);
      if (declared > MAX_UPLOAD_BYTES) throw new BerthError('BERTH_E_TOO_LARGE', `the upload is larger than ${MAX_UPLOAD_BYTES} bytes`, { status: 413 });
      const description = req.raw.headers['x-berth-description'];
      return {
        // The status waits for the first line, which comes once the upload
        // is unpacked: a refused upload (BERTH_E_ARCHIVE 400, …_TOO_LARGE
        // 413, NOTHING_TO_DEPLOY 400) is an error answer with its status.
        // Later failures (the build, the rollout) are the stream's last line.
        deferHead: true,
        stream: async (write) => {
          try {
            const release = await platform.deploy(app.name, req.raw, {
              description: typeof description === 'string' && description.trim() !== '' ? description.trim().slice(0, 200) : undefined,
              actor: req.actor,
              log: (line) => write(line),
            });
            write(JSON.stringify({ result: 'ok', release: releaseView(release, store.getApp(app.name).currentVersion) }));
          } catch (err) {
            // A BerthError goes as it is: before the first line an answer with its status, after it the stream's last line.
            if (err instanceof BerthError) throw err;
            // Unexpected: logged here, once, with the app and the reference the client is shown.
            throw new BerthError('BERTH_E_INTERNAL', api.internalError(err, `deploy of ${app.name}`).message, { status: 500 });
          }
        },
      };
    })
    .add('GET', '/apps/:app/releases', async (req) => {
      const app = appOf(req);
      return { body: { releases: store.listReleases(app.name).map((r) => releaseView(r, app.currentVersion)) } };
    })
    .add('GET', '/apps/:app/kubernetes/manifests', async (req) => {
      const app = appOf(req);
      const release = req.query.get('release');
      return { body: { yaml: await platform.kubernetesManifests(app.name, release === null ? undefined : release) } };
    })
    .add('POST', '/apps/:app/rollback', async (req) => {
      const app = appOf(req);
      const body = object(await req.json(), 'the request body');
      const version = body.version === undefined ? undefined : names.releaseRef(String(body.version));
      const release = await platform.rollback(app.name, version, req.actor);
      return { body: { release: releaseView(release, store.getApp(app.name).currentVersion) } };
    })
    .add('GET', '/apps/:app/config', async (req) => {
      const app = appOf(req);
      const reveal = req.query.get('reveal') === '1';
      const config = store.getConfig(app.name);
      // `config`: the app's own vars (as before); `vars`: everything its processes receive, with the source.
      return { body: { config: Object.fromEntries(Object.entries(config).map(([key, value]) => [key, reveal ? value : null])), vars: platform.variables(app.name, reveal) } };
    })
    .add('PATCH', '/apps/:app/config', async (req) => {
      const app = appOf(req);
      const body = object(await req.json(), 'the request body');
      const set = stringRecord(body.set, 'set');
      const unset = Array.isArray(body.unset) ? body.unset.map(String) : [];
      if (Object.keys(set).length === 0 && unset.length === 0) throw new BerthError('BERTH_E_USAGE', 'nothing to change: give "set" and/or "unset"', { status: 400 });
      const release = await platform.changeConfig(app.name, { set, unset }, req.actor);
      return { body: { release: release === null ? null : releaseView(release, store.getApp(app.name).currentVersion) } };
    })
    .add('PUT', '/apps/:app/formation', async (req) => {
      const app = appOf(req);
      const body = object(await req.json(), 'the request body');
      const quantities: Record<string, number> = {};
      const memory: Record<string, number | null> = {};
      for (const [type, value] of Object.entries(body)) {
        // {"web": 2}, or {"web": {"count": 2, "memory": "1g"}} (memory null: back to the defaults).
        const entry = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { count: value };
        for (const key of Object.keys(entry)) if (key !== 'count' && key !== 'memory') throw new BerthError('BERTH_E_SCALE', `${type}: unknown field "${key}"`, { status: 400, hint: 'Give {"count": N} and optionally "memory": "512m" (or null).' });
        if (typeof entry.count !== 'number' || !Number.isInteger(entry.count)) throw new BerthError('BERTH_E_SCALE', `${type} must be a whole number`, { status: 400 });
        quantities[type] = entry.count;
        if (entry.memory === null) memory[type] = null;
        else if (entry.memory !== undefined) {
          if (typeof entry.memory !== 'string' && typeof entry.memory !== 'number') throw new BerthError('BERTH_E_SCALE', `${type}: memory is a size such as "512m"`, { status: 400 });
          memory[type] = parseSize(entry.memory);
        }
      }
      const formation = await platform.scale(app.name, quantities, req.actor, memory);
      return { body: { formation, memory: platform.formationMemory(app.name) } };
    })
    .add('GET', '/apps/:app/ps', async (req) => ({ body: { instances: await platform.instances(appOf(req).name) } }))
    .add('GET', '/apps/:app/cron', async (req) => {
      const app = appOf(req);
      const jobs = platform.cronJobs(app.name).map((job) => ({
        ...job,
        lastRuns: store.listCronRuns(app.name, { job: job.name, limit: 5 }).map((run) => ({ slot: run.slot, status: run.status, exitCode: run.exitCode, startedAt: run.startedAt, finishedAt: run.finishedAt, release: `v${run.releaseVersion}` })),
      }));
      return { body: { jobs } };
    })
    .add('POST', '/apps/:app/restart', async (req) => {
      await platform.restart(appOf(req).name, req.actor);
      return { body: { restarted: true } };
    })
    .add('GET', '/apps/:app/logs', async (req) => {
      const app = appOf(req);
      const { query, follow } = logQueryFromParams(req.query, Date.now());
      // access=1: the edge's access log of the app, as format=json (default), common or combined.
      const access = req.query.get('access') === '1';
      const log = access ? platform.accessLogOf(app.name) : platform.logOf(app.name);
      const format: (line: LogLine) => string | null = access ? accessLineFormatter(parseAccessFormat(req.query.get('format'))) : formatLogLine;
      const writeLine = (write: (line: string) => boolean) => (line: LogLine) => {
        const text = format(line);
        if (text !== null) write(text);
      };
      if (!follow) {
        let lines = await log.recent(query);
        // On a cluster the processes' output is in their pods: read now, merged by time.
        if (!access && platform.cluster !== null) lines = mergeLogLines(lines, (await platform.podLogLines(app.name, query.limit)).filter((line) => lineMatches(line, query)), query.limit);
        return { stream: async (write) => void lines.forEach(writeLine(write)) };
      }
      return {
        stream: async (write, closed) => {
          const stopLog = await log.recentThenFollow(query, writeLine(write));
          // On a cluster the processes' output is in their pods: read every few seconds beside it.
          const stopPods = access ? () => {} : platform.followPodLogs(app.name, (line) => {
            if (lineMatches(line, query)) writeLine(write)(line);
          });
          const stop = () => {
            stopLog();
            stopPods();
          };
          if (closed.aborted) return stop();
          await new Promise<void>((resolve) =>
            closed.addEventListener('abort', () => {
              stop();
              resolve();
            }),
          );
        },
      };
    })
    .add('GET', '/apps/:app/domains', async (req) => {
      const app = appOf(req).name;
      return { body: { domains: platform.domains(app), details: platform.domainDetails(app) } };
    })
    .add('POST', '/apps/:app/domains', async (req) => {
      const app = appOf(req);
      const body = object(await req.json(), 'the request body');
      if (typeof body.hostname !== 'string') throw new BerthError('BERTH_E_NAME', 'a domain needs a "hostname"', { status: 400 });
      const domains = await platform.addDomain(app.name, body.hostname, req.actor);
      return { status: 201, body: { domains, details: platform.domainDetails(app.name) } };
    })
    .add('DELETE', '/apps/:app/domains/:hostname', async (req) => {
      const app = appOf(req).name;
      const domains = await platform.removeDomain(app, req.params.hostname ?? '', req.actor);
      return { body: { domains, details: platform.domainDetails(app) } };
    })
    .add('POST', '/apps/:app/cache/purge', async (req) => {
      const app = appOf(req);
      const body = object((await req.json()) ?? {}, 'the request body');
      if (body.path !== undefined && body.path !== null && typeof body.path !== 'string') throw new BerthError('BERTH_E_BAD_JSON', '"path" must be a string', { status: 400 });
      const path = typeof body.path === 'string' ? body.path : null;
      return { body: { purged: await platform.purgeCache(app.name, path, req.actor), path } };
    })
    .add('GET', '/tls/ca', async () => ({ body: { pem: platform.localCaRoot() } }))
    .add('GET', '/tokens', async () => ({
      body: { tokens: store.listTokens().map((t) => ({ name: t.name, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt, revokedAt: t.revokedAt })) },
    }))
    .add('POST', '/tokens', async (req) => {
      const body = object(await req.json(), 'the request body');
      if (typeof body.name !== 'string') throw new BerthError('BERTH_E_NAME', 'a token needs a "name"', { status: 400 });
      const created = store.createToken(body.name);
      store.audit({ actor: req.actor, action: 'tokens.create', target: created.info.name, result: 'ok', detail: {} });
      return { status: 201, body: { token: created.token, name: created.info.name } };
    })
    .add('DELETE', '/tokens/:name', async (req) => {
      let revoked;
      try {
        revoked = store.revokeToken(req.params.name ?? '');
      } catch (err) {
        // A try at locking everyone out is worth a row of its own.
        if (err instanceof BerthError && err.code === 'BERTH_E_LAST_ADMIN_TOKEN') {
          store.audit({ actor: req.actor, action: 'tokens.revoke', target: req.params.name ?? '', result: 'error', detail: { code: err.code } });
        }
        throw err;
      }
      store.audit({ actor: req.actor, action: 'tokens.revoke', target: revoked.name, result: 'ok', detail: {} });
      return { body: { revoked: revoked.name } };
    });
}
