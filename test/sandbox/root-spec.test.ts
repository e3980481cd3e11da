// A sandbox over an image's root, as plain data: the command line bwrap
// gets, the mounts a build inside its base image sees, the mount points
// the unpacker makes real, and how setpriv is brought in. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENV_PROGRAM, imageRootMountPoints, imageRootMounts, isLoaderVariable, launchArgv, loaderVariables, parseLdd, ROOT_CACHE_DIR, ROOT_TOOLS_DIR, setprivCommand, withoutLoaderVariables, type SandboxSpec } from '../../src/sandbox/index.ts';

const TOOLS = { nsenter: '/usr/bin/nsenter', bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv' };
const FDS = { info: 3, block: 4, seccomp: null };
const SETPRIV = [`${ROOT_TOOLS_DIR}/ld-linux-x86-64.so.2`, '--library-path', ROOT_TOOLS_DIR, `${ROOT_TOOLS_DIR}/setpriv`];

function spec(over: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    hostname: 'shop',
    user: { uid: 70001, gid: 70001 },
    cwd: '/app',
    argv: ['python3', '-m', 'venv', '.venv'],
    mounts: imageRootMounts({ appDir: '/app', build: '/state/apps/shop/builds/3', cache: '/state/apps/shop/cache', tools: '/state/run/root-tools/abc', etcDir: '/state/run/sandbox/shop/etc' }),
    netnsPath: '/run/berth/x/netns/shop',
    root: { source: '/state/oci/rootfs/0123', setpriv: SETPRIV },
    ...over,
  };
}

test("the image's root is bound read-only as / first, no folder is made in it, and setpriv runs by its own loader", () => {
  const argv = launchArgv(spec(), TOOLS, FDS);
  const bwrap = argv.indexOf('/usr/bin/bwrap');
  assert.deepEqual(argv.slice(0, bwrap), ['/usr/bin/nsenter', '--net=/run/berth/x/netns/shop', '--']);
  const root = argv.indexOf('--ro-bind');
  assert.deepEqual(argv.slice(root, root + 3), ['--ro-bind', '/state/oci/rootfs/0123', '/']);
  const firstMount = argv.findIndex((arg, i) => i > root && ['--bind', '--ro-bind', '--proc', '--dev', '--tmpfs', '--dir', '--symlink'].includes(arg));
  assert.ok(firstMount > root + 2, 'the root comes before every other mount');
  assert.ok(!argv.includes('--dir'), 'every mount point is already in the root (it is read-only)');
  assert.ok(!argv.includes('--unshare-net'), "the app's network: npm and pip reach their registries");
  const chdir = argv.indexOf('--chdir');
  assert.deepEqual(argv.slice(chdir, chdir + 3 + SETPRIV.length), ['--chdir', '/app', '--', ...SETPRIV]);
  assert.deepEqual(argv.slice(-8), ['--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', 'python3', '-m', 'venv', '.venv']);
  assert.ok(argv.includes('--reuid=70001') && argv.includes('--regid=70001') && argv.includes('--clear-groups'));
  // The build folder writable at /app, the cache writable, the tools and berth's /etc files read-only.
  const pairs = (flag: string) => argv.flatMap((arg, i) => (arg === flag ? [`${argv[i + 1]} ${argv[i + 2]}`] : []));
  assert.deepEqual(pairs('--bind'), ['/state/apps/shop/builds/3 /app', `/state/apps/shop/cache ${ROOT_CACHE_DIR}`]);
  assert.deepEqual(pairs('--ro-bind'), [
    '/state/oci/rootfs/0123 /',
    ...['passwd', 'group', 'hosts', 'hostname', 'resolv.conf'].map((name) => `/state/run/sandbox/shop/etc/${name} /etc/${name}`),
    '/state/run/root-tools/abc/empty /etc/ld.so.preload',
    `/state/run/root-tools/abc ${ROOT_TOOLS_DIR}`,
  ]);
  assert.ok(argv.includes('--proc') && argv.includes('--dev'));
});

test('without a root the command line is as before: folders made, the host setpriv', () => {
  const argv = launchArgv({ ...spec(), root: undefined, mounts: [{ kind: 'bind', source: '/srv/a', target: '/srv/a', writable: true }] }, TOOLS, FDS);
  assert.ok(!argv.slice(0, argv.indexOf('--bind')).includes('/'), 'no root bind');
  assert.deepEqual(argv.slice(argv.indexOf('--dir') - 2, argv.indexOf('--dir') + 2), ['--perms', '0755', '--dir', '/srv']);
  assert.equal(argv[argv.indexOf('--chdir') + 3], '/usr/bin/setpriv');
});

test('a root that is not an absolute normal path of its own, or has no setpriv, is refused', () => {
  for (const source of ['relative', '/state/../etc', '/']) assert.throws(() => launchArgv(spec({ root: { source, setpriv: SETPRIV } }), TOOLS, FDS), RangeError, source);
  assert.throws(() => launchArgv(spec({ root: { source: '/state/oci/rootfs/0123', setpriv: [] } }), TOOLS, FDS), RangeError);
  // The system folders of the image stay read-only too.
  assert.throws(() => launchArgv(spec({ mounts: [{ kind: 'bind', source: '/x', target: '/usr/local', writable: true }] }), TOOLS, FDS), /writable bind over the system/);
});

test('the mount points the unpacker makes real are exactly where the mounts land', () => {
  const points = imageRootMountPoints('/srv/app');
  const mounts = imageRootMounts({ appDir: '/srv/app', build: '/b', cache: '/c', tools: '/t', etcDir: '/e' });
  for (const mount of mounts) {
    if (mount.target === '/dev/shm') continue; // inside /dev's own tmpfs
    const list = mount.kind === 'bind' && (mount.source.startsWith('/e/') || mount.source === '/t/empty') ? points.files : points.dirs;
    assert.ok(list.includes(mount.target), `${mount.target} is a mount point`);
  }
  assert.deepEqual(imageRootMounts({ appDir: '/app', build: '/b', cache: null, tools: '/t', etcDir: '/e' }).map((m) => m.target).includes(ROOT_CACHE_DIR), false, 'no cache, no mount');
});

test("ldd's answer: the libraries and the loader, or a static program", () => {
  const out = '\tlinux-vdso.so.1 (0x00007ffc)\n\tlibcap-ng.so.0 => /lib/x86_64-linux-gnu/libcap-ng.so.0 (0x00007f8b)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f8b)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f8b)\n';
  assert.deepEqual(parseLdd(out), { loader: '/lib64/ld-linux-x86-64.so.2', libraries: ['/lib/x86_64-linux-gnu/libcap-ng.so.0', '/lib/x86_64-linux-gnu/libc.so.6'] });
  assert.equal(parseLdd('\tnot a dynamic executable\n'), null);
  assert.throws(() => parseLdd('\tlibcap-ng.so.0 => not found\n'), /missing/);
  assert.deepEqual(setprivCommand('/lib64/ld-linux-x86-64.so.2', ['/lib/x/libc.so.6']), SETPRIV);
  assert.deepEqual(setprivCommand(null, []), [`${ROOT_TOOLS_DIR}/setpriv`]);
});

test("the loader's variables that load code are kept from the programs that make a sandbox over an image's root", () => {
  const env = { PATH: '/usr/bin', LD_PRELOAD: '/evil.so', LD_AUDIT: '/evil.so', LD_DEBUG_OUTPUT: '/app/x', LD_PROFILE_OUTPUT: '/app/y', LD_LIBRARY_PATH: '/opt/lib', SECRET: 's' };
  assert.deepEqual(withoutLoaderVariables(env), { PATH: '/usr/bin', SECRET: 's' }, 'LD_LIBRARY_PATH too: nsenter and bwrap are the host\'s, run as root');
  assert.equal(env.LD_PRELOAD, '/evil.so', 'the caller\'s object is not changed');
});

test("on the host's files the loader's variables skip the root stages and are set again for the program, as the app's user", () => {
  const env = { PATH: '/usr/bin', LD_PRELOAD: '/app/evil.so', GCONV_PATH: '/app/g', GLIBC_TUNABLES: 'x', LD_ANYTHING_NEW: '1', TMPDIR: '/tmp', SECRET: 's' };
  assert.deepEqual(withoutLoaderVariables(env), { PATH: '/usr/bin', TMPDIR: '/tmp', SECRET: 's' });
  assert.deepEqual(loaderVariables(env), { LD_PRELOAD: '/app/evil.so', GCONV_PATH: '/app/g', GLIBC_TUNABLES: 'x', LD_ANYTHING_NEW: '1' });
  assert.ok(isLoaderVariable('LD_AUDIT') && isLoaderVariable('NLSPATH') && !isLoaderVariable('LDAP_URL') && !isLoaderVariable('DATABASE_URL'));
  const spec: SandboxSpec = { hostname: 'shop', user: { uid: 70001, gid: 70001 }, cwd: '/app', argv: ['node', 'server.js'], mounts: [], netnsPath: null, restoreEnv: { LD_PRELOAD: '/app/libjemalloc.so' } };
  const tools = { nsenter: '/usr/bin/nsenter', bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv' };
  const argv = launchArgv(spec, tools, { info: 3, block: 4, seccomp: null });
  const afterSetpriv = argv.slice(argv.lastIndexOf('--') + 1);
  assert.deepEqual(afterSetpriv, [ENV_PROGRAM, 'LD_PRELOAD=/app/libjemalloc.so', 'node', 'server.js'], 'set again once setpriv dropped to the app');
  assert.deepEqual(launchArgv({ ...spec, restoreEnv: {} }, tools, { info: 3, block: 4, seccomp: null }).slice(-2), ['node', 'server.js'], 'no env hop without such variables');
  assert.throws(() => launchArgv({ ...spec, argv: ['A=b', 'x'] }, tools, { info: 3, block: 4, seccomp: null }), /"=" in its name/);
});
