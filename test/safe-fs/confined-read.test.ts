import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kindConfined, readConfined, readConfinedText } from '../../src/safe-fs/index.ts';
import type { BerthError } from '../../src/errors.ts';

async function fixture(t: { after(fn: () => unknown): void }): Promise<{ app: string; secret: string }> {
  const root = await mkdtemp(join(tmpdir(), 'berth-confined-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const app = join(root, 'app');
  await mkdir(join(app, 'config'), { recursive: true });
  await writeFile(join(app, 'berth.toml'), '[health]\npath = "/up"\n');
  await writeFile(join(app, 'config', 'real.toml'), 'inside');
  const secret = join(root, 'admin-token');
  await writeFile(join(secret), 'berth_SECRET_TOKEN');
  return { app, secret };
}

function refused(pattern: RegExp) {
  return (err: BerthError) => {
    assert.equal(err.code, 'BERTH_E_APP_FILE');
    assert.match(err.message, pattern);
    assert.doesNotMatch(`${err.message} ${err.hint}`, /SECRET/);
    return true;
  };
}

test('a regular file inside the folder is read; a missing one is null', async (t) => {
  const { app } = await fixture(t);
  assert.equal(await readConfinedText(app, 'berth.toml'), '[health]\npath = "/up"\n');
  assert.equal(await readConfinedText(app, 'Procfile'), null);
  assert.equal(await readConfinedText(app, 'missing/Procfile'), null);
  assert.equal(await readConfinedText(app, 'berth.toml/x'), null, 'a file used as a folder is missing, not an error');
});

test('a link that stays inside the folder is followed', async (t) => {
  const { app } = await fixture(t);
  await symlink('config/real.toml', join(app, 'Procfile'));
  await symlink('config', join(app, 'conf'));
  assert.equal(await readConfinedText(app, 'Procfile'), 'inside');
  assert.equal(await readConfinedText(app, 'conf/real.toml'), 'inside');
  assert.equal(await kindConfined(app, 'conf'), 'directory');
});

test('links leading outside the folder are refused and never read, absolute or relative, at the end or on the way', async (t) => {
  const { app, secret } = await fixture(t);
  await symlink(secret, join(app, 'Procfile'));
  await symlink('../admin-token', join(app, 'package.json'));
  await symlink('..', join(app, 'up'));
  await assert.rejects(readConfined(app, 'Procfile'), refused(/Procfile is a link leading outside the app folder/));
  await assert.rejects(readConfined(app, 'package.json'), refused(/leading outside/));
  await assert.rejects(readConfined(app, 'up/admin-token'), refused(/leading outside/));
  await assert.rejects(kindConfined(app, 'Procfile'), refused(/leading outside/));
  await symlink('loop', join(app, 'loop'));
  await assert.rejects(readConfined(app, 'loop'), refused(/loop of links/));
});

test('not a regular file, a hard link, or over the size limit: refused', async (t) => {
  const { app, secret } = await fixture(t);
  await assert.rejects(readConfined(app, 'config'), refused(/not a regular file/));
  execFileSync('mkfifo', [join(app, 'fifo')]);
  await assert.rejects(readConfined(app, 'fifo'), refused(/not a regular file/), 'a FIFO neither hangs nor is read');
  assert.equal(await kindConfined(app, 'fifo'), 'other');
  await link(secret, join(app, 'hard.toml'));
  await assert.rejects(readConfined(app, 'hard.toml'), refused(/hard link/));
  await writeFile(join(app, 'big'), Buffer.alloc(2048, 0x61));
  await assert.rejects(readConfined(app, 'big', 1024), refused(/larger than 1024 bytes/));
  assert.equal((await readConfined(app, 'big', 2048))!.length, 2048);
});

test('names that write their own way out are a programming error', async (t) => {
  const { app } = await fixture(t);
  await assert.rejects(readConfined(app, '../admin-token'), RangeError);
  await assert.rejects(readConfined(app, '/etc/passwd'), RangeError);
});
