// The attack: a build is the app's code (npm's install scripts, setup.py,
// a Procfile `build:`) and it runs inside its base image's root, which root
// unpacked and every build on that base shares. The build must not change
// that root, see the host's files or berth's state, keep any capability,
// or run as anyone but the app's user; it writes only its build folder.
// The image is hostile too: its loader settings must load nothing into
// setpriv, which runs as root until it drops to the app's user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, chown, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create } from 'tar';
import { LayerCache, digestOf, mediaTypes, type BaseImage } from '../../src/oci/index.ts';
import { Containment } from '../../src/platform/containment.ts';
import { prepareBuildRoot } from '../../src/platform/build-root.ts';
import { runOnce } from '../../src/runner/index.ts';
import { NO_LIMITS, Sandboxes } from '../../src/sandbox/index.ts';

if (process.getuid?.() !== 0) throw new Error('builds inside a base image run in sandboxes, which need root: run this test as root');

const APP = 'rootattack';
const UID = 85_000 + (process.pid % 3000);
const APPLETS = ['sh', 'id', 'touch', 'cat', 'ls', 'echo', 'grep', 'mkdir', 'rm', 'ln', 'mknod', 'chmod', 'stat', 'mount'];

/** Every path under `dir` with its kind, size and mode: what "unchanged" means for the root. */
async function listing(dir: string, prefix = ''): Promise<string[]> {
  const lines: string[] = [];
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const path = join(prefix, name);
    const info = await lstat(join(dir, path));
    lines.push(`${path} ${info.mode.toString(8)} ${info.size} ${info.uid}`);
    if (info.isDirectory()) lines.push(...(await listing(dir, path)));
  }
  return lines;
}

test("a build inside its base image cannot change the shared root, sees nothing of the host's, and runs as the app's user without capabilities", async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-root-attack-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(root, { recursive: true, force: true })];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  // A busybox base, straight into the layer cache.
  const image = join(root, 'image');
  await mkdir(join(image, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(image, 'bin', 'busybox'));
  for (const applet of APPLETS) await symlink('busybox', join(image, 'bin', applet));
  // The image's loader settings would load its code into setpriv, which runs as root before it drops.
  await mkdir(join(image, 'etc'));
  await writeFile(join(image, 'etc', 'ld.so.preload'), '/evil.so\n');
  const chunks: Buffer[] = [];
  for await (const chunk of create({ cwd: image, portable: true }, ['bin', 'etc']) as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  const tar = Buffer.concat(chunks);
  const cache = await LayerCache.open(join(root, 'cache'));
  const blob = await cache.putBytes(gzipSync(tar, { level: 1 }));
  const base: BaseImage = {
    reference: { registry: 'registry.example', repository: 'base/busybox', tag: 'latest', digest: undefined },
    manifestDigest: digestOf(Buffer.from(`busybox ${root}`)),
    config: { architecture: 'amd64', os: 'linux', variant: undefined, env: ['PATH=/bin'], diffIds: [digestOf(tar)], history: undefined },
    layers: [{ mediaType: mediaTypes.OCI_LAYER_GZIP, digest: blob.digest, size: blob.size }],
  };
  const stateDir = join(root, 'state');
  const buildRoot = await prepareBuildRoot(base, cache, join(stateDir, 'oci', 'rootfs'));
  const before = await listing(buildRoot.rootfs);

  const opened = await Sandboxes.open({ stateDir, log: () => {}, mode: 'required' });
  const sandboxes = opened.sandboxes!;
  cleanups.push(async () => {
    await sandboxes.close();
    await Sandboxes.purge(stateDir);
  });
  const containment = new Containment({ sandboxes, uncontainedReason: null, stateDir, instanceDefaults: NO_LIMITS, buildMemoryBytes: 256 * 1024 ** 2 });
  const user = { uid: UID, gid: UID };
  const appDir = join(stateDir, 'apps', APP);
  const paths = { dir: appDir, home: join(appDir, 'home'), cache: join(appDir, 'cache'), builds: join(appDir, 'builds') };
  const dir = join(paths.builds, '1');
  for (const folder of [paths.home, paths.cache, dir]) {
    await mkdir(folder, { recursive: true });
    await chown(folder, UID, UID);
    await chmod(folder, 0o700);
  }
  const { launcher } = await containment.buildInRoot(APP, user, paths, buildRoot, dir);
  const build = async (script: string): Promise<{ code: number; out: string }> => {
    const lines: string[] = [];
    const code = await runOnce(['sh', '-c', script], { cwd: '/app', env: { PATH: '/bin', HOME: '/tmp', LD_PRELOAD: '/evil.so', LD_AUDIT: '/evil.so', LD_LIBRARY_PATH: '/evil' }, onLine: (line) => lines.push(line), user, launcher, label: 'build' });
    return { code, out: lines.join('\n') };
  };

  // Who it is: the app's user, with nothing of root's.
  const who = await build('id -u; id -g; grep -E "^Cap(Eff|Prm|Bnd):" /proc/self/status; grep NoNewPrivs /proc/self/status');
  assert.equal(who.code, 0, who.out);
  assert.match(who.out, new RegExp(`^${UID}\\n${UID}\\n`));
  for (const set of ['CapEff', 'CapPrm', 'CapBnd']) assert.match(who.out, new RegExp(`^${set}:\\s+0{16}$`, 'm'), set);
  assert.match(who.out, /^NoNewPrivs:\s+1$/m);
  // nsenter's, bwrap's and setpriv's loaders (the host's, dynamic) would say so had they tried to preload it.
  assert.doesNotMatch(who.out, /evil|preload/i, 'nothing was preloaded into what runs as root');
  const loader = await build('echo "preload=[$LD_PRELOAD] audit=[$LD_AUDIT] path=[$LD_LIBRARY_PATH]"; cat /etc/ld.so.preload; echo end');
  assert.match(loader.out, /^preload=\[\] audit=\[\] path=\[\]\nend$/, "the loader's variables and the image's ld.so.preload are not in force");

  // The shared root is read-only, whatever the build tries.
  const writes = await build([
    'for f in /bin/evil /evil /etc/evil /app/../evil; do touch $f 2>/dev/null && echo "WROTE $f"; done',
    'echo x > /bin/busybox 2>/dev/null && echo "WROTE busybox"',
    'rm -f /bin/sh 2>/dev/null; ln -s /app /bin/app 2>/dev/null && echo "LINKED"',
    'chmod 4755 /bin/busybox 2>/dev/null && echo "CHMOD"',
    'mknod /app/mem c 1 1 2>/dev/null && echo "MKNOD"',
    'mount -t tmpfs none /bin 2>/dev/null && echo "MOUNTED"',
    'echo "pwn:x:0:0::/:/bin/sh" >> /etc/passwd 2>/dev/null && echo "PASSWD"',
    'echo built > /app/out && echo "APP OK"',
  ].join('\n'));
  assert.equal(writes.out.split('\n').filter((line) => /^(WROTE|LINKED|CHMOD|MKNOD|MOUNTED|PASSWD)/.test(line)).join('\n'), '', writes.out);
  assert.match(writes.out, /^APP OK$/m, 'its own build folder is writable');
  assert.deepEqual(await listing(buildRoot.rootfs), before, 'the root is as unpacked');
  assert.equal((await lstat(join(dir, 'out'))).uid, UID);

  // Nothing of the host's: its /etc, root's home, berth's state, the host's /usr.
  const shadowLine = (await readFile('/etc/shadow', 'utf8')).split('\n')[0]!;
  const looks = await build([
    'cat /etc/shadow 2>/dev/null',
    `ls ${stateDir} 2>/dev/null && echo "STATE VISIBLE"`,
    'ls /root /home /usr 2>/dev/null && echo "HOST VISIBLE"',
    'ls /; cat /etc/passwd; cat /etc/resolv.conf',
  ].join('\n'));
  assert.ok(!looks.out.includes(shadowLine), 'no line of the host /etc/shadow');
  assert.doesNotMatch(looks.out, /STATE VISIBLE|HOST VISIBLE/);
  assert.match(looks.out, new RegExp(`^\\S+:x:${UID}:${UID}:berth app:`, "m"), "berth's passwd, naming the app's user");
  assert.match(looks.out, /^nameserver \S+$/m, "the app network's resolver");
  const top = looks.out.split('\n');
  for (const name of ['app', 'bin', 'dev', 'etc', 'proc', 'tmp']) assert.ok(top.includes(name), `/${name} is there`);
  const digest = createHash('sha256').update(before.join('\n')).digest('hex');
  assert.equal(createHash('sha256').update((await listing(buildRoot.rootfs)).join('\n')).digest('hex'), digest);
});
