// The PostgreSQL provider against real servers: berth's own local cluster
// (a superuser admin) and the system's cluster through an admin URL (a
// CREATEROLE CREATEDB admin that is no superuser). Both are held to the
// same suite; "the app" is a pg client logged in with its DATABASE_URL.
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createPostgresProvider, postgresName, restoreDatabaseName } from '../../src/addons/postgres.ts';
import { parseScramVerifier, scramSha256Verifier } from '../../src/addons/scram.ts';
import type { AddonContext, AddonProvider, Provisioned } from '../../src/addons/types.ts';
import { isBerthError } from '../../src/errors.ts';
import { eventually } from '../helpers/berth-process.ts';
import { dropSystemPostgresAdmin, failureCode, psqlAsPostgres, systemPostgresAdminUrl, uniquePrefix, withClient } from '../helpers/postgres.ts';

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function rejectsWith(code: string, pattern?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isBerthError(err), `expected a BerthError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  // The local cluster runs as the postgres user, who must get through.
  await chmod(dir, 0o711);
  return dir;
}

test('SCRAM-SHA-256 verifier: the keys of RFC 7677\'s exchange (user "user", password "pencil")', () => {
  const verifier = scramSha256Verifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  const parts = parseScramVerifier(verifier);
  assert.ok(parts);
  assert.match(verifier, /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  // The RFC's client proof and server signature, checked against the stored keys the way a server does.
  const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
  const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
  const clientSignature = hmac(parts.storedKey, authMessage);
  const clientKey = Buffer.from(proof.map((byte, i) => byte ^ clientSignature[i]!));
  assert.deepEqual(createHash('sha256').update(clientKey).digest(), parts.storedKey, 'the client proof matches StoredKey');
  assert.equal(hmac(parts.serverKey, authMessage).toString('base64'), '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', 'the server signature');
});

test('names: prefix and app with "-" → "_", at most 63 bytes, distinct when long names share a start', () => {
  assert.equal(postgresName('berth_', 'my-shop'), 'berth_my_shop');
  const long = 'a'.repeat(60);
  const one = postgresName('berth_', `${long}-one`);
  const two = postgresName('berth_', `${long}-two`);
  assert.ok(one.length <= 63 && two.length <= 63);
  assert.notEqual(one, two);
  assert.equal(restoreDatabaseName('berth_shop', 'r12'), 'berth_shop_restore_r12');
  assert.ok(restoreDatabaseName(one, 'r12').length <= 63);
});

/** The suite both servers are held to. */
function providerSuite(label: string, setup: (prefix: string) => Promise<{ provider: AddonProvider; cleanup: () => Promise<void> }>): void {
  describe(label, () => {
    let provider: AddonProvider;
    let cleanup: () => Promise<void>;
    let dir: string;
    const prefix = uniquePrefix();
    const a: AddonContext = { app: 'shop-a', user: null };
    const b: AddonContext = { app: 'shop-b', user: null };
    let madeA: Provisioned;
    let madeB: Provisioned;
    const leftovers = new Map<AddonContext, Provisioned>();

    before(async () => {
      ({ provider, cleanup } = await setup(prefix));
      dir = await tempDir('berth-pg-dumps-');
      await provider.start();
    });
    after(async () => {
      // Whatever a failed test left behind.
      for (const [context, made] of leftovers) await provider.deprovision(context, made.resource).catch(() => {});
      await provider.close();
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    });

    const appUrl = () => madeA.vars.DATABASE_URL!;

    it('provisions a database and role of its own for each app; DATABASE_URL reads and writes', async () => {
      madeA = await provider.provision(a);
      leftovers.set(a, madeA);
      madeB = await provider.provision(b);
      leftovers.set(b, madeB);
      const url = new URL(appUrl());
      assert.equal(url.username, `${prefix}shop_a`);
      assert.equal(url.pathname, `/${prefix}shop_a`);
      assert.equal(madeA.resource.database, `${prefix}shop_a`);
      assert.equal(madeA.resource.role, `${prefix}shop_a`);
      assert.match(madeA.resource.password!, /^[A-Za-z0-9_-]{32,}$/);
      assert.equal(decodeURIComponent(url.password), madeA.resource.password);
      assert.equal(url.port, madeA.resource.port);
      await withClient(appUrl(), async (client) => {
        await client.query('CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)');
        await client.query("INSERT INTO items (name) VALUES ('anchor'), ('rope'), ('sail')");
        await client.query('CREATE TABLE orders (id int)');
        const { rows } = await client.query('SELECT name FROM items ORDER BY id');
        assert.deepEqual(rows.map((row) => row.name), ['anchor', 'rope', 'sail']);
      });
      const shown = provider.describe(madeA.resource);
      assert.deepEqual(Object.keys(shown).sort(), ['database', 'role', 'server']);
      assert.equal(shown.server, `${madeA.resource.host}:${madeA.resource.port}`);
      assert.ok(!JSON.stringify(shown).includes(madeA.resource.password!), 'describe never shows the password');
    });

    it("one app's credentials cannot reach another app's database, nor make databases or roles", async () => {
      const intoB = new URL(appUrl());
      intoB.pathname = `/${madeB.resource.database}`;
      assert.equal(await failureCode(intoB.href), '42501', "A may not connect to B's database");
      assert.equal(await failureCode(appUrl(), `CREATE DATABASE ${prefix}sneaky`), '42501');
      assert.equal(await failureCode(appUrl(), `CREATE ROLE ${prefix}sneaky`), '42501');
      const badPassword = new URL(appUrl());
      badPassword.password = 'wrong';
      assert.equal(await failureCode(badPassword.href), '28P01');
      await withClient(madeB.vars.DATABASE_URL!, (client) => client.query('SELECT 1'));
    });

    it('provisioning an app twice is refused with BERTH_E_ADDON_EXISTS, and the first stays as it was', async () => {
      await assert.rejects(provider.provision(a), rejectsWith('BERTH_E_ADDON_EXISTS'));
      await withClient(appUrl(), async (client) => assert.equal((await client.query('SELECT count(*)::int AS n FROM items')).rows[0].n, 3));
    });

    it('dump, then lose rows and a table, then restore into the app: everything is back', async () => {
      const file = join(dir, 'a.pgdump');
      await provider.dump(a, madeA.resource, file, new AbortController().signal);
      assert.equal((await readFile(file)).subarray(0, 5).toString(), 'PGDMP');
      await withClient(appUrl(), async (client) => {
        await client.query("DELETE FROM items WHERE name <> 'anchor'");
        await client.query('DROP TABLE orders');
        await client.query('CREATE TABLE added_later (id int)');
      });
      const report = await provider.restore(a, madeA.resource, file, { into: 'app' });
      assert.deepEqual(report, { summary: `restored 2 tables into the database ${prefix}shop_a`, location: null });
      await withClient(appUrl(), async (client) => {
        assert.deepEqual((await client.query('SELECT name FROM items ORDER BY id')).rows.map((row) => row.name), ['anchor', 'rope', 'sail']);
        await client.query('SELECT * FROM orders');
        // The serial goes on from where it was, not from 1.
        assert.equal((await client.query("INSERT INTO items (name) VALUES ('oar') RETURNING id")).rows[0].id, 4);
        await client.query("DELETE FROM items WHERE name = 'oar'");
      });
    });

    it('a dump can be cancelled: before it starts, or while it runs; the tool is killed and no file is left', async () => {
      const file = join(dir, 'cancelled.pgdump');
      const early = new AbortController();
      early.abort();
      await assert.rejects(provider.dump(a, madeA.resource, file, early.signal), rejectsWith('BERTH_E_ADDON_TOOL', /cancelled/));
      await assert.rejects(stat(file), { code: 'ENOENT' });
      // A session holding an exclusive lock keeps pg_dump waiting, so it is surely running when cancelled.
      await withClient(appUrl(), async (locker) => {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
        const controller = new AbortController();
        const dumping = provider.dump(a, madeA.resource, file, controller.signal);
        await eventually('pg_dump waits for the lock', async () => {
          // Not through the locker: inside its transaction pg_stat_activity is a snapshot.
          const { rows } = await withClient(appUrl(), (client) => client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"));
          return rows[0].n > 0;
        }, 10_000);
        controller.abort();
        await assert.rejects(dumping, rejectsWith('BERTH_E_ADDON_TOOL', /pg_dump was cancelled/));
        await locker.query('ROLLBACK');
      });
      await assert.rejects(stat(file), { code: 'ENOENT' });
    });

    it('a restore into a new database makes <db>_restore_<tag>, owned by the app, without a password in its location', async () => {
      const file = join(dir, 'a.pgdump');
      await withClient(appUrl(), (client) => client.query("INSERT INTO items (name) VALUES ('only in the live database')"));
      const report = await provider.restore(a, madeA.resource, file, { into: 'new', tag: 'r7' });
      const fresh = `${prefix}shop_a_restore_r7`;
      assert.equal(report.summary, `restored 2 tables into the new database ${fresh}`);
      const location = new URL(report.location!);
      assert.equal(location.password, '');
      assert.equal(location.username, madeA.resource.role);
      assert.equal(location.pathname, `/${fresh}`);
      assert.ok(!report.location!.includes(madeA.resource.password!));
      location.password = madeA.resource.password!;
      await withClient(location.href, async (client) => {
        assert.deepEqual((await client.query('SELECT name FROM items ORDER BY id')).rows.map((row) => row.name), ['anchor', 'rope', 'sail']);
      });
      const intoFresh = new URL(madeB.vars.DATABASE_URL!);
      intoFresh.pathname = `/${fresh}`;
      assert.equal(await failureCode(intoFresh.href), '42501', "B may not connect to A's restored database");
      await assert.rejects(provider.restore(a, madeA.resource, file, { into: 'new', tag: 'r7' }), rejectsWith('BERTH_E_RESTORE_FAILED', /already exists/));
      await withClient(appUrl(), async (client) => assert.equal((await client.query('SELECT count(*)::int AS n FROM items')).rows[0].n, 4, 'the live database is untouched'));
    });

    it('a garbage file or a truncated dump fails with BERTH_E_RESTORE_FAILED and leaves the data as it was', async () => {
      const garbage = join(dir, 'garbage.pgdump');
      await writeFile(garbage, 'this is not a dump\n'.repeat(100));
      await assert.rejects(provider.restore(a, madeA.resource, garbage, { into: 'app' }), rejectsWith('BERTH_E_RESTORE_FAILED', /pg_restore/));
      // A dump whose table of contents reads but whose data breaks off: the
      // restore has dropped and recreated tables by the time it fails.
      await withClient(appUrl(), (client) => client.query("INSERT INTO items (name) SELECT 'row ' || n FROM generate_series(1, 20000) AS n"));
      const whole = join(dir, 'whole.pgdump');
      await provider.dump(a, madeA.resource, whole, new AbortController().signal);
      const bytes = await readFile(whole);
      const truncated = join(dir, 'truncated.pgdump');
      await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.8)));
      await withClient(appUrl(), (client) => client.query("DELETE FROM items WHERE name LIKE 'row %'"));
      await assert.rejects(provider.restore(a, madeA.resource, truncated, { into: 'app' }), rejectsWith('BERTH_E_RESTORE_FAILED', /changed nothing/));
      await withClient(appUrl(), async (client) => {
        assert.equal((await client.query('SELECT count(*)::int AS n FROM items')).rows[0].n, 4);
        await client.query('SELECT * FROM orders');
      });
      await assert.rejects(provider.restore(a, madeA.resource, truncated, { into: 'new', tag: 'bad' }), rejectsWith('BERTH_E_RESTORE_FAILED'));
      const intoBad = new URL(appUrl());
      intoBad.pathname = `/${prefix}shop_a_restore_bad`;
      assert.equal(await failureCode(intoBad.href), '3D000', 'a failed restore into a new database leaves no database behind');
    });

    it('deprovision drops the role, the database and its restores; a second one is harmless', async () => {
      // An open session of the app does not stop the drop.
      const session = new pg.Client({ connectionString: appUrl() });
      session.on('error', () => {});
      await session.connect();
      try {
        await provider.deprovision(a, madeA.resource);
      } finally {
        await session.end().catch(() => {});
      }
      const code = await failureCode(appUrl());
      assert.ok(code === '28P01' || code === '28000', `the role is gone (got ${code})`);
      assert.deepEqual(await leftOf(madeA.resource), { roles: 0, databases: 0 });
      await provider.deprovision(a, madeA.resource);
      await provider.deprovision(b, madeB.resource);
      assert.deepEqual(await leftOf(madeB.resource), { roles: 0, databases: 0 });
      leftovers.clear();
    });

    /** How many of an app's roles and databases the server still has, read from pg_catalog by a probe app. */
    async function leftOf(resource: Readonly<Record<string, string>>): Promise<{ roles: number; databases: number }> {
      const probe: AddonContext = { app: 'probe', user: null };
      const made = await provider.provision(probe);
      try {
        return await withClient(made.vars.DATABASE_URL!, async (client) => {
          const { rows } = await client.query(
            "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1)::int AS roles, (SELECT count(*) FROM pg_database WHERE datname = $2 OR datname LIKE $2 || '\\_restore\\_%')::int AS databases",
            [resource.role, resource.database],
          );
          return rows[0];
        });
      } finally {
        await provider.deprovision(probe, made.resource);
      }
    }
  });
}

providerSuite('local cluster (superuser admin)', async (prefix) => {
  const dir = await tempDir('berth-pg-local-');
  const provider = createPostgresProvider({ adminUrl: null, localDir: join(dir, 'addons', 'postgres'), namePrefix: prefix, supervisorMarker: `test-${process.pid}-${Date.now()}`, log: () => {} });
  return { provider, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

providerSuite('system cluster through an admin URL (CREATEROLE CREATEDB admin, no superuser)', async (prefix) => {
  const adminUrl = await systemPostgresAdminUrl();
  const provider = createPostgresProvider({ adminUrl, localDir: '/nonexistent', namePrefix: prefix, supervisorMarker: 'unused', log: () => {} });
  return { provider, cleanup: async () => {} };
});

// Last, once every suite has dropped what its admin made.
after(() => dropSystemPostgresAdmin());

describe('admin URL checks', () => {
  it('start() refuses an admin without CREATEROLE/CREATEDB, and an unreachable server, with BERTH_E_ADDON_SERVER', async () => {
    const adminUrl = new URL(await systemPostgresAdminUrl());
    const weak = `berth_weak_${process.pid}`;
    const password = 'weak-password-for-a-test';
    await psqlAsPostgres(`DROP ROLE IF EXISTS ${weak}; CREATE ROLE ${weak} LOGIN CREATEDB PASSWORD ${pg.escapeLiteral(scramSha256Verifier(password))};`);
    try {
      adminUrl.username = weak;
      adminUrl.password = password;
      const provider = createPostgresProvider({ adminUrl: adminUrl.href, localDir: '/nonexistent', namePrefix: 'unused_', supervisorMarker: 'unused', log: () => {} });
      await assert.rejects(provider.start(), (err) => {
        rejectsWith('BERTH_E_ADDON_SERVER', /lacks CREATEROLE/)(err);
        assert.match((err as { hint: string }).hint, /ALTER ROLE .* CREATEROLE CREATEDB/);
        assert.ok(!(err as Error).message.includes(password), 'no password in the message');
        return true;
      });
      await provider.close();
    } finally {
      await psqlAsPostgres(`DROP ROLE IF EXISTS ${weak};`);
    }
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const nowhere = createPostgresProvider({ adminUrl: `postgres://someone:secret@127.0.0.1:${closed}/postgres`, localDir: '/nonexistent', namePrefix: 'unused_', supervisorMarker: 'unused', log: () => {} });
    await assert.rejects(nowhere.start(), (err) => {
      rejectsWith('BERTH_E_ADDON_SERVER', /cannot connect/)(err);
      assert.ok(!(err as Error).message.includes('secret'));
      return true;
    });
  });

  it('a provision that fails halfway (the admin lost CREATEDB after start) leaves no role behind', async () => {
    const adminUrl = new URL(await systemPostgresAdminUrl());
    const admin = `berth_undo_${process.pid}`;
    const password = 'undo-password-for-a-test';
    const prefix = uniquePrefix();
    await psqlAsPostgres(`DROP ROLE IF EXISTS ${admin}; CREATE ROLE ${admin} LOGIN CREATEROLE CREATEDB PASSWORD ${pg.escapeLiteral(scramSha256Verifier(password))};`);
    adminUrl.username = admin;
    adminUrl.password = password;
    const provider = createPostgresProvider({ adminUrl: adminUrl.href, localDir: '/nonexistent', namePrefix: prefix, supervisorMarker: 'unused', log: () => {} });
    try {
      await provider.start();
      await psqlAsPostgres(`ALTER ROLE ${admin} NOCREATEDB;`);
      await assert.rejects(provider.provision({ app: 'halfway', user: null }), rejectsWith('BERTH_E_ADDON_SERVER', /permission denied to create database/));
      const left = await psqlAsPostgres(`\\pset tuples_only on\n\\pset format unaligned\nSELECT count(*) FROM pg_roles WHERE rolname = '${prefix}halfway';`);
      assert.equal(left.trim(), '0', 'the role made before the failure was dropped');
    } finally {
      await provider.close();
      await psqlAsPostgres(`DROP ROLE IF EXISTS ${prefix}halfway; DROP ROLE IF EXISTS ${admin};`);
    }
  });

  it("a SCRAM verifier berth computes is the one the server computes for the same password and salt", async () => {
    const role = `berth_scram_${process.pid}`;
    await psqlAsPostgres(`DROP ROLE IF EXISTS ${role}; SET password_encryption = 'scram-sha-256'; CREATE ROLE ${role} PASSWORD 'correct horse battery staple';`);
    try {
      const stored = (await psqlAsPostgres(`\\pset tuples_only on\n\\pset format unaligned\nSELECT rolpassword FROM pg_authid WHERE rolname = '${role}';`)).trim();
      const parts = parseScramVerifier(stored);
      assert.ok(parts, stored);
      assert.equal(scramSha256Verifier('correct horse battery staple', parts.salt, parts.iterations), stored);
    } finally {
      await psqlAsPostgres(`DROP ROLE IF EXISTS ${role};`);
    }
  });
});
