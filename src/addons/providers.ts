import { join } from 'node:path';
import { LocalCa } from '../tls/index.ts';
import { createPostgresProvider } from './postgres.ts';
import { createRedisProvider } from './redis.ts';
import { createSqliteProvider } from './sqlite.ts';
import type { AddonKind, AddonProvider } from './types.ts';

export interface AddonServers {
  readonly stateDir: string;
  /** An external PostgreSQL's admin URL (--postgres-admin-url); null: a local cluster under STATE/addons/postgres. */
  readonly postgresAdminUrl: string | null;
  /** An external Redis's admin URL (--redis-admin-url); null: a local redis-server under STATE/addons/redis. */
  readonly redisAdminUrl: string | null;
  /** The apps' Unix user prefix ("berth-"): database roles and Redis users are named after it. */
  readonly namePrefix: string;
  /** Tags the local servers so a later daemon can stop them if this one dies. */
  readonly supervisorMarker: string;
  /** The sandboxes' service address (null: apps run uncontained): the local servers listen there too, and the local PostgreSQL's certificate names it. */
  readonly serviceAddress?: string | null;
  readonly log: (line: string) => void;
}

/** One provider per kind; local servers start only when first needed. */
export function createAddonProviders(servers: AddonServers): Record<AddonKind, AddonProvider> {
  const addons = join(servers.stateDir, 'addons');
  return {
    postgres: createPostgresProvider({
      adminUrl: servers.postgresAdminUrl,
      localDir: join(addons, 'postgres'),
      // Roles and databases: "berth_shop_api" for the app shop-api.
      namePrefix: servers.namePrefix.replace(/-/g, '_'),
      supervisorMarker: servers.supervisorMarker,
      log: servers.log,
      serviceAddress: servers.serviceAddress ?? null,
      tls: { issuer: () => LocalCa.open({ stateDir: servers.stateDir, log: servers.log }), serviceAddress: servers.serviceAddress ?? null },
    }),
    redis: createRedisProvider({
      adminUrl: servers.redisAdminUrl,
      localDir: join(addons, 'redis'),
      userPrefix: servers.namePrefix,
      supervisorMarker: servers.supervisorMarker,
      log: servers.log,
      serviceAddress: servers.serviceAddress ?? null,
    }),
    sqlite: createSqliteProvider({ dataRoot: join(servers.stateDir, 'data'), log: servers.log }),
  };
}
