import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddonService, type AddonKind, type AddonProvider } from '../../src/addons/index.ts';
import { createSqliteProvider } from '../../src/addons/sqlite.ts';
import { registerAddonRoutes } from '../../src/api/addon-routes.ts';
import { ApiServer } from '../../src/api/api-server.ts';
import { BerthError } from '../../src/errors.ts';
import { Store, type ReleaseInfo, type ScheduledTask } from '../../src/platform/index.ts';

/**
 * The add-on routes on a real ApiServer over a real AddonService and Store,
 * with the real SQLite provider (it needs no server) and a stand-in for the
 * platform (releases are recorded, not rolled out) and for the PostgreSQL and
 * Redis providers (`redis` provisions, and its dumps fail with `dumpFailure`,
 * for the ways a backup goes wrong). Cleaned up after the test.
 */
export interface AddonApi {
  readonly url: string;
  readonly token: string;
  readonly store: Store;
  readonly stateDir: string;
  readonly appLog: string[];
  readonly tasks: Map<string, readonly ScheduledTask[]>;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }>;
  /** Makes an app with a first (serving) release. */
  createApp(name: string): void;
}

export const ADDON_API_TOKEN = 'berth_addon_test_token';

function unavailable(kind: AddonKind): AddonProvider {
  const no = async (): Promise<never> => {
    throw new BerthError('BERTH_E_ADDON_SERVER', `no ${kind} server in this test`, { status: 503 });
  };
  return { kind, dumpSuffix: kind, start: async () => {}, provision: no, deprovision: no, dump: no, restore: no, describe: () => ({}), close: async () => {} };
}

/** Provisions like a Redis whose dumps fail: what a backup of an unreachable server looks like. */
function failingRedis(): AddonProvider {
  return {
    ...unavailable('redis'),
    provision: async (context) => ({ vars: { REDIS_URL: `redis://${context.app}:s3cret-redis@127.0.0.1:1/0` }, resource: { user: context.app, password: 's3cret-redis' } }),
    deprovision: async () => {},
    dump: async () => {
      throw new Error('BGSAVE failed: connection refused');
    },
    describe: (resource) => ({ user: resource.user ?? '' }),
  };
}

export async function startAddonApi(t: { after(fn: () => unknown): void }, options: { copy?: boolean } = {}): Promise<AddonApi> {
  const stateDir = await mkdtemp(join(tmpdir(), 'berth-addon-api-'));
  const store = Store.open(stateDir);
  const appLog: string[] = [];
  const tasks = new Map<string, readonly ScheduledTask[]>();
  const service = new AddonService({
    stateDir,
    platform: {
      store,
      async releaseForAddons(app: string, description: string): Promise<ReleaseInfo | null> {
        const current = store.currentRelease(app);
        if (current === null) return null;
        const release = store.createRelease(app, { kind: 'config', description, buildId: current.buildId, processes: current.processes });
        store.markRelease(release.id, 'succeeded');
        store.setCurrentRelease(app, release.id);
        return store.listReleases(app).find((r) => r.id === release.id)!;
      },
      appUser: async () => null,
      scheduleTasks: (app, list) => void tasks.set(app, list),
      scheduledTasks: (app) => (tasks.get(app) ?? []).map((task) => ({ name: task.name, nextRun: '2030-01-01T03:00:00.000Z', running: null })),
      appLog: (app, source, line) => void appLog.push(`${app} ${source} ${line}`),
    },
    providers: { postgres: unavailable('postgres'), redis: failingRedis(), sqlite: createSqliteProvider({ dataRoot: join(stateDir, 'data'), log: () => {} }) },
    backupCopyDir: options.copy ? join(stateDir, 'copies') : null,
    log: () => {},
  });
  await service.start();
  const api = new ApiServer({ authenticate: (token) => (token === ADDON_API_TOKEN ? 'admin' : null), log: () => {} });
  registerAddonRoutes(api, service);
  const address = await api.listen('127.0.0.1', 0);
  t.after(async () => {
    await api.close();
    await service.close();
    store.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    token: ADDON_API_TOKEN,
    store,
    stateDir,
    appLog,
    tasks,
    async call(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${ADDON_API_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: JSON.parse(text), text };
    },
    createApp(name) {
      store.createApp(name);
      const release = store.createRelease(name, { kind: 'config', description: 'First release', processes: [] });
      store.markRelease(release.id, 'succeeded');
      store.setCurrentRelease(name, release.id);
    },
  };
}
