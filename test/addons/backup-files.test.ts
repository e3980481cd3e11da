import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync, closeSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { backupFileName, copyBackup, openBackup, removePartials, sealBackup } from '../../src/addons/backup-files.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-backup-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A raw dump that compresses somewhat, like a real one: text with random parts. */
function rawDump(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `INSERT INTO items VALUES (${i}, '${randomBytes(12).toString('hex')}');\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('sealBackup then openBackup gives back the raw dump; the checksum is of the compressed file', async (t) => {
  const dir = tempDir(t);
  const raw = rawDump(3 * 1024 * 1024);
  writeFileSync(join(dir, 'dump.raw'), raw);
  const final = join(dir, 'shop-postgres-20261121T170000Z-1.pgdump.gz');

  const sealed = await sealBackup(join(dir, 'dump.raw'), final);
  const onDisk = readFileSync(final);
  assert.equal(sealed.bytes, onDisk.length);
  assert.equal(sealed.sha256, sha256(onDisk));
  assert.ok(onDisk.length < raw.length, 'compressed');
  assert.ok(gunzipSync(onDisk).equals(raw));
  assert.equal(statSync(final).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir).sort(), ['dump.raw', 'shop-postgres-20261121T170000Z-1.pgdump.gz']);

  await openBackup(final, sealed.sha256, join(dir, 'restored.raw'), sealed.bytes);
  assert.ok(readFileSync(join(dir, 'restored.raw')).equals(raw));
  assert.equal(statSync(join(dir, 'restored.raw')).mode & 0o777, 0o600);
});

test('sealBackup of an empty dump makes a valid (small) backup', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'empty.raw'), '');
  const sealed = await sealBackup(join(dir, 'empty.raw'), join(dir, 'b.gz'));
  assert.ok(sealed.bytes > 0);
  await openBackup(join(dir, 'b.gz'), sealed.sha256, join(dir, 'out.raw'));
  assert.equal(readFileSync(join(dir, 'out.raw')).length, 0);
});

test('openBackup: a flipped byte is BERTH_E_BACKUP_CORRUPT and nothing is unpacked', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'dump.raw'), rawDump(200_000));
  const final = join(dir, 'b.gz');
  const sealed = await sealBackup(join(dir, 'dump.raw'), final);
  const bytes = readFileSync(final);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(final, bytes);
  await assert.rejects(openBackup(final, sealed.sha256, join(dir, 'out.raw'), sealed.bytes), { code: 'BERTH_E_BACKUP_CORRUPT', message: /checksum/ });
  assert.equal(existsSync(join(dir, 'out.raw')), false);
});

test('openBackup: a truncated file is corrupt, by its size when known and by its checksum otherwise', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'dump.raw'), rawDump(200_000));
  const final = join(dir, 'b.gz');
  const sealed = await sealBackup(join(dir, 'dump.raw'), final);
  truncateSync(final, sealed.bytes - 100);
  await assert.rejects(openBackup(final, sealed.sha256, join(dir, 'out.raw'), sealed.bytes), { code: 'BERTH_E_BACKUP_CORRUPT', message: new RegExp(`has ${sealed.bytes - 100} bytes, but ${sealed.bytes}`) });
  await assert.rejects(openBackup(final, sealed.sha256, join(dir, 'out.raw')), { code: 'BERTH_E_BACKUP_CORRUPT', message: /checksum/ });
  assert.equal(existsSync(join(dir, 'out.raw')), false);
});

test('openBackup: a missing file is corrupt and says it is missing', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(openBackup(join(dir, 'gone.gz'), 'a'.repeat(64), join(dir, 'out.raw')), { code: 'BERTH_E_BACKUP_CORRUPT', message: /is missing/ });
});

test('openBackup: a file with the recorded checksum that does not unpack is corrupt, and its partial output is removed', async (t) => {
  const dir = tempDir(t);
  // A gzip stream cut short, recorded as it is (the damage predates the checksum).
  const whole = readFileSync(await (async () => {
    writeFileSync(join(dir, 'dump.raw'), rawDump(500_000));
    await sealBackup(join(dir, 'dump.raw'), join(dir, 'whole.gz'));
    return join(dir, 'whole.gz');
  })());
  const cut = whole.subarray(0, Math.floor(whole.length / 2));
  writeFileSync(join(dir, 'cut.gz'), cut);
  await assert.rejects(openBackup(join(dir, 'cut.gz'), sha256(cut), join(dir, 'out.raw'), cut.length), { code: 'BERTH_E_BACKUP_CORRUPT', message: /cannot be unpacked/ });
  assert.equal(existsSync(join(dir, 'out.raw')), false);

  writeFileSync(join(dir, 'plain.gz'), 'not gzip at all');
  await assert.rejects(openBackup(join(dir, 'plain.gz'), sha256(Buffer.from('not gzip at all')), join(dir, 'out.raw')), { code: 'BERTH_E_BACKUP_CORRUPT', message: /cannot be unpacked/ });
  assert.equal(existsSync(join(dir, 'out.raw')), false);
});

test('sealBackup that fails leaves neither the final file nor a partial one', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(sealBackup(join(dir, 'missing.raw'), join(dir, 'b.gz')), { code: 'ENOENT' });
  assert.deepEqual(readdirSync(dir), []);

  // The rename fails: a folder holds the final name.
  writeFileSync(join(dir, 'dump.raw'), rawDump(100_000));
  mkdirSync(join(dir, 'b.gz'));
  writeFileSync(join(dir, 'b.gz', 'inside'), 'kept');
  await assert.rejects(sealBackup(join(dir, 'dump.raw'), join(dir, 'b.gz')));
  assert.deepEqual(readdirSync(dir).sort(), ['b.gz', 'dump.raw']);
  assert.equal(readFileSync(join(dir, 'b.gz', 'inside'), 'utf8'), 'kept');
});

test('sealBackup never reuses a partial file that is already there (another writer, or a crash not yet swept)', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'dump.raw'), rawDump(1000));
  writeFileSync(join(dir, 'b.gz.partial'), 'someone else');
  await assert.rejects(sealBackup(join(dir, 'dump.raw'), join(dir, 'b.gz')), { code: 'EEXIST' });
  assert.equal(readFileSync(join(dir, 'b.gz.partial'), 'utf8'), 'someone else');
  assert.equal(existsSync(join(dir, 'b.gz')), false);
});

test('a backup killed halfway leaves only a .partial, which removePartials deletes, and never the final file', async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'dump.fifo');
  execFileSync('mkfifo', [fifo]);
  const final = join(dir, 'shop-sqlite-20261121T170000Z-3.sqlite.gz');
  const module = pathToFileURL(resolve('src/addons/backup-files.ts')).href;
  // The sealing process reads the raw dump from a FIFO, so it is halfway for
  // as long as this test wants: until it is killed.
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { sealBackup } from ${JSON.stringify(module)}; await sealBackup(process.argv[1], process.argv[2]); console.log('sealed');`, fifo, final], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  t.after(() => child.kill('SIGKILL'));

  // Non-blocking both ways: a child that died early must fail the test, not hang it.
  let writer = -1;
  for (let i = 0; i < 500 && writer < 0 && child.exitCode === null; i++) {
    try {
      writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err; // no reader yet
      await delay(20);
    }
  }
  assert.ok(writer >= 0, 'the sealing process opened the dump');
  try {
    const partial = `${final}.partial`;
    const chunk = rawDump(64 * 1024);
    const grown = () => existsSync(partial) && statSync(partial).size > 64 * 1024;
    for (let i = 0; i < 2000 && !grown() && child.exitCode === null; i++) {
      try {
        writeSync(writer, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        await delay(5);
      }
    }
    assert.ok(grown(), 'the partial file grew');
    child.kill('SIGKILL');
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL');
  } finally {
    closeSync(writer);
  }

  assert.deepEqual(readdirSync(dir).sort(), ['dump.fifo', 'shop-sqlite-20261121T170000Z-3.sqlite.gz.partial']);
  writeFileSync(join(dir, 'kept.gz'), 'a finished backup');
  assert.deepEqual(await removePartials(dir), [`${final}.partial`]);
  assert.deepEqual(readdirSync(dir).sort(), ['dump.fifo', 'kept.gz']);
  assert.deepEqual(await removePartials(dir), []);
});

test('removePartials of a folder that does not exist removes nothing', async (t) => {
  const dir = tempDir(t);
  assert.deepEqual(await removePartials(join(dir, 'never-made')), []);
});

test('copyBackup copies atomically into the second folder and the copy has the same checksum', async (t) => {
  const dir = tempDir(t);
  const second = join(dir, 'offsite');
  mkdirSync(second);
  writeFileSync(join(dir, 'dump.raw'), rawDump(1024 * 1024));
  const final = join(dir, 'shop-redis-20261121T170000Z-4.rdb.gz');
  const sealed = await sealBackup(join(dir, 'dump.raw'), final);

  const copy = await copyBackup(final, second, sealed.sha256);
  assert.equal(copy, join(second, 'shop-redis-20261121T170000Z-4.rdb.gz'));
  assert.equal(sha256(readFileSync(copy)), sealed.sha256);
  assert.equal(statSync(copy).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(second), ['shop-redis-20261121T170000Z-4.rdb.gz']);
  // The copy opens as the original does.
  await openBackup(copy, sealed.sha256, join(dir, 'from-copy.raw'), sealed.bytes);
  assert.ok(readFileSync(join(dir, 'from-copy.raw')).equals(readFileSync(join(dir, 'dump.raw'))));
});

test('copyBackup of a damaged or missing source copies nothing', async (t) => {
  const dir = tempDir(t);
  const second = join(dir, 'offsite');
  mkdirSync(second);
  writeFileSync(join(dir, 'dump.raw'), rawDump(100_000));
  const final = join(dir, 'b.gz');
  const sealed = await sealBackup(join(dir, 'dump.raw'), final);
  const bytes = readFileSync(final);
  bytes[10]! ^= 0xff;
  writeFileSync(final, bytes);

  await assert.rejects(copyBackup(final, second, sealed.sha256), { code: 'BERTH_E_BACKUP_CORRUPT' });
  await assert.rejects(copyBackup(join(dir, 'gone.gz'), second), { code: 'BERTH_E_BACKUP_CORRUPT', message: /is missing/ });
  await assert.rejects(copyBackup(final, join(dir, 'no-such-folder')), { code: 'ENOENT' });
  assert.deepEqual(readdirSync(second), []);
});

test('backupFileName: app, kind, UTC start time, id and suffix, in safe characters only', () => {
  assert.equal(backupFileName({ id: 12, app: 'myapp', kind: 'postgres', startedAt: '2026-11-21T17:00:00.000Z', suffix: 'pgdump' }), 'myapp-postgres-20261121T170000Z-12.pgdump.gz');
  // Another offset is the same instant in UTC.
  assert.equal(backupFileName({ id: 3, app: 'blog-2', kind: 'sqlite', startedAt: '2026-11-21T18:30:05+01:00', suffix: 'sqlite' }), 'blog-2-sqlite-20261121T173005Z-3.sqlite.gz');
  const good = { id: 1, app: 'shop', kind: 'redis', startedAt: '2026-11-21T17:00:00Z', suffix: 'rdb' };
  for (const bad of [{ id: 0 }, { id: 1.5 }, { app: '../etc' }, { app: 'Shop' }, { kind: 'a/b' }, { suffix: 'tar.gz' }, { suffix: '' }, { startedAt: 'yesterday' }]) {
    assert.throws(() => backupFileName({ ...good, ...bad }), { code: 'BERTH_E_USAGE' }, JSON.stringify(bad));
  }
});
