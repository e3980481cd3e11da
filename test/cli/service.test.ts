// berth server install / uninstall (issue 16): the unit's text and its
// quoting (pure), checked by systemd's own parser (`systemd-analyze
// verify`, which needs no running systemd); the install and uninstall steps
// against a temp unit folder and a recording systemctl; and the real CLI on
// this machine, which systemd does not run: the unit printed, nothing
// written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { environmentAssignment, execArgument, installService, serverFlags, serviceUnit, uninstallService, unitStateDir, UNIT_MARKER, type ServerOption } from '../../src/cli/service/index.ts';
import { StateLock } from '../../src/platform/index.ts';
import { REPO, runBerth } from '../helpers/berth-process.ts';
import { tempDir } from './remote/run-berth.ts';

const ENTRY = join(REPO, 'bin', 'berth.js');

/** Some of berth server's options, as its command defines them (the CLI test below uses the real ones). */
const OPTIONS: ServerOption[] = [
  { long: '--state', takesValue: true },
  { long: '--http', takesValue: true },
  { long: '--https', takesValue: true },
  { long: '--domain', takesValue: true },
  { long: '--tls-cert', takesValue: true },
  { long: '--tls-key', takesValue: true },
  { long: '--no-acme', takesValue: false },
  { long: '--metrics-without-token', takesValue: false },
  { long: '--postgres-admin-url', takesValue: true },
  { long: '--redis-admin-url', takesValue: true },
];

const usage = (pattern: RegExp) => (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE' && pattern.test(err.message);

/** Values systemd would read otherwise than written, unless quoted: spaces, quotes, specifiers, variables, escapes, separators. */
const HOSTILE = ['two words', "it's", 'say "hi"', '100%', '%n', '$HOME', '${HOME}', '$$', 'back\\slash', 'trailing\\', ';', 'a;b', '-dash', '@at', '#hash', '\u00e9t\u00e9'];

test('each argument is quoted so systemd reads it back as given: \\ and " escaped, $ and % doubled', () => {
  assert.equal(execArgument('/usr/bin/node'), '"/usr/bin/node"');
  assert.equal(execArgument('two words'), '"two words"');
  assert.equal(execArgument('say "hi"'), '"say \\"hi\\""');
  assert.equal(execArgument('back\\slash'), '"back\\\\slash"');
  assert.equal(execArgument('100%'), '"100%%"');
  assert.equal(execArgument('$HOME ${X}'), '"$$HOME $${X}"');
  assert.equal(execArgument("it's"), '"it\'s"');
  assert.equal(environmentAssignment('PATH', '/opt/a b/%/$x:/usr/bin'), '"PATH=/opt/a b/%%/$x:/usr/bin"');
});

test('a line break or any other control character is refused, never written into a unit', () => {
  for (const bad of ['a\nb', 'a\rb', 'tab\there', 'nul\0', 'del\x7f', '\n']) {
    assert.throws(() => execArgument(bad), usage(/control character/), JSON.stringify(bad));
    assert.throws(() => serverFlags(['--domain', bad], OPTIONS, '/'), usage(/control character/), JSON.stringify(bad));
    assert.throws(() => serviceUnit({ node: '/usr/bin/node', entry: ENTRY, flags: ['--domain', bad] }), usage(/control character/));
  }
  assert.throws(() => serverFlags([`--domain=a\nExecStartPre=/bin/sh`], OPTIONS, '/'), usage(/control character/));
  assert.throws(() => environmentAssignment('PATH', '/a\n/b'), usage(/control character/));
  assert.throws(() => environmentAssignment('BAD NAME', 'x'), usage(/not an environment variable name/));
});

test('the unit: berth server with its flags, restart on failure, at boot, drained on stop, cgroups delegated, no hardening that breaks sandboxes', () => {
  const unit = serviceUnit({ node: '/opt/node 24/bin/node', entry: '/usr/lib/node_modules/berth-paas/bin/berth.js', flags: ['--state', '/var/lib/berth', '--http', ':80'] });
  assert.ok(unit.startsWith(`${UNIT_MARKER}\n`));
  const lines = unit.split('\n');
  const setting = (name: string) => lines.filter((line) => line.startsWith(`${name}=`)).map((line) => line.slice(name.length + 1));
  assert.deepEqual(setting('ExecStart'), ['"/opt/node 24/bin/node" "/usr/lib/node_modules/berth-paas/bin/berth.js" "server" "--state" "/var/lib/berth" "--http" ":80"']);
  assert.deepEqual(setting('Environment'), ['"PATH=/opt/node 24/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"']);
  assert.deepEqual(setting('Restart'), ['on-failure']);
  assert.deepEqual(setting('WantedBy'), ['multi-user.target']);
  // A stop or restart leaves the apps (and the edge) running: only berth itself is signalled.
  assert.deepEqual(setting('KillMode'), ['process']);
  assert.equal(unitStateDir(unit), '/var/lib/berth');
  assert.equal(unitStateDir(serviceUnit({ node: '/usr/bin/node', entry: ENTRY, flags: ['--state', '/srv/b "x" $1 %h'] })), '/srv/b "x" $1 %h');
  assert.equal(unitStateDir('[Service]\nExecStart=/bin/true\n'), null);
  assert.deepEqual(setting('Delegate'), ['yes']);
  assert.deepEqual(setting('LimitNOFILE'), ['1048576']);
  assert.deepEqual(setting('EnvironmentFile'), ['-/etc/default/berth']);
  for (const hardening of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'NoNewPrivileges', 'PrivateDevices', 'User', 'DynamicUser']) assert.deepEqual(setting(hardening), [], hardening);
  // A Node in one of systemd's own folders is not put first twice.
  const system = serviceUnit({ node: '/usr/bin/node', entry: ENTRY, flags: [] });
  assert.match(system, /^Environment="PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin"$/m);
  assert.throws(() => serviceUnit({ node: 'node', entry: ENTRY, flags: [] }), usage(/absolute path/));
  for (const bad of ["/opt/it's/node", '/opt/"q"/node', '/opt/back\\slash/node', '/opt/$HOME/node']) assert.throws(() => serviceUnit({ node: bad, entry: ENTRY, flags: [] }), usage(/holds a quote, a backslash or a "\$"/));
  assert.match(serviceUnit({ node: '/usr/bin/node', entry: "/opt/it's/bin/berth.js", flags: [] }), /^ExecStart="\/usr\/bin\/node" "\/opt\/it's\/bin\/berth\.js" "server"$/m);
});

test('server flags: checked against berth server\'s options, --state first (default /var/lib/berth), paths made absolute, --flag=value split', () => {
  assert.deepEqual(serverFlags([], OPTIONS, '/home/a'), ['--state', '/var/lib/berth']);
  assert.deepEqual(serverFlags(['--http', ':80', '--state', 'data', '--no-acme', '--https=:443', '--tls-cert', 'certs/a.pem', '--tls-key=/k.pem'], OPTIONS, '/home/a'), [
    '--state', '/home/a/data', '--http', ':80', '--no-acme', '--https', ':443', '--tls-cert', '/home/a/certs/a.pem', '--tls-key', '/k.pem',
  ]);
  assert.deepEqual(serverFlags(['--domain', 'a b$%'], OPTIONS, '/'), ['--state', '/var/lib/berth', '--domain', 'a b$%']);
  assert.deepEqual(serverFlags(['--postgres-admin-url', 'postgres://admin@db:5432/postgres'], OPTIONS, '/'), ['--state', '/var/lib/berth', '--postgres-admin-url', 'postgres://admin@db:5432/postgres']);
  assert.throws(() => serverFlags(['--htp', ':80'], OPTIONS, '/'), usage(/berth server has no flag --htp/));
  assert.throws(() => serverFlags([':80'], OPTIONS, '/'), usage(/":80" is not a flag of berth server/));
  assert.throws(() => serverFlags(['--http'], OPTIONS, '/'), usage(/--http needs a value/));
  assert.throws(() => serverFlags(['--http='], OPTIONS, '/'), usage(/--http needs a value/));
  assert.throws(() => serverFlags(['--no-acme=yes'], OPTIONS, '/'), usage(/--no-acme takes no value/));
  for (const [flag, env] of [['--postgres-admin-url', 'BERTH_POSTGRES_ADMIN_URL'], ['--redis-admin-url', 'BERTH_REDIS_ADMIN_URL']] as const) {
    assert.throws(
      () => serverFlags([flag, 'x://admin:s3cret@db/'], OPTIONS, '/'),
      (err: Error & { code?: string; hint?: string }) => err.code === 'BERTH_E_USAGE' && !err.message.includes('s3cret') && err.hint!.includes(`${env}=URL in /etc/default/berth`),
    );
  }
});

/** systemd-analyze verify on a unit file; its stderr must be empty (it warns, with status 0, of what it ignored). */
function verify(dir: string, unit: string): { status: number | null; stderr: string } {
  const path = join(dir, 'berth.service');
  writeFileSync(path, unit);
  const run = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
  assert.equal(run.error, undefined, `systemd-analyze (Debian's systemd package) runs: ${run.error?.message}`);
  return { status: run.status, stderr: run.stderr };
}

test('systemd-analyze verify accepts the unit, hostile flag values included, without a warning', async (t) => {
  const dir = await tempDir(t, 'berth-unit-');
  const unit = serviceUnit({ node: process.execPath, entry: ENTRY, flags: serverFlags(HOSTILE.flatMap((value) => ['--domain', value]), OPTIONS, '/') });
  assert.deepEqual(verify(dir, unit), { status: 0, stderr: '' });
  // The check can fail: unbalanced quoting and an unknown specifier, as a careless unit would have them.
  assert.notEqual(verify(dir, unit.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} "unbalanced`)).status, 0);
  assert.notEqual(verify(dir, unit.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} 100%z`)).status, 0);
});

test('systemd reads each hostile value back exactly: an executable named after it is found by systemd-analyze', async (t) => {
  // verify checks that ExecStart's first word names an executable file, after
  // systemd's unquoting, unescaping and expansion: a path that came back
  // different would be missing. (systemd takes no quote or backslash in the
  // program's own path and expands no variable there, so serviceUnit refuses
  // a Node whose path has one, and those values are checked as arguments only,
  // above.)
  const dir = await tempDir(t, 'berth-unit-');
  for (const value of HOSTILE.filter((v) => !/["'\\$]/.test(v))) {
    const program = join(dir, `program ${value.replace(/\//g, '_')}`);
    writeFileSync(program, '#!/bin/sh\n');
    chmodSync(program, 0o755);
    const good = serviceUnit({ node: program, entry: ENTRY, flags: [] });
    assert.deepEqual(verify(dir, good), { status: 0, stderr: '' }, JSON.stringify(value));
  }
  // Written without the quoting, the same paths are not what systemd reads.
  const naive = join(dir, 'program two words'); // made above
  const unit = serviceUnit({ node: naive, entry: ENTRY, flags: [] }).replace(/^ExecStart="[^"]*"/m, `ExecStart=${naive}`);
  assert.notEqual(verify(dir, unit).status, 0);
});

interface FakeMachine {
  readonly unitPath: string;
  readonly systemdMarker: string;
  readonly systemctl: string;
  readonly calls: () => string[];
  readonly out: string[];
  readonly err: string[];
  readonly io: { out: (text: string) => void; err: (text: string) => void };
}

/** A unit folder, a systemd marker and a systemctl that records its arguments (and fails for `failOn`, answers `show` with `mainPid`). */
async function fakeMachine(t: { after(fn: () => unknown): void }, behaviour: { failOn?: string; mainPid?: number } = {}): Promise<FakeMachine> {
  const dir = await tempDir(t, 'berth-service-');
  const log = join(dir, 'systemctl.log');
  const systemctl = join(dir, 'systemctl');
  writeFileSync(
    systemctl,
    `#!/bin/sh\necho "$*" >> '${log}'\n` +
      `if [ "$1" = show ]; then echo ${behaviour.mainPid ?? 0}; exit 0; fi\n` +
      (behaviour.failOn === undefined ? '' : `if [ "$1" = '${behaviour.failOn}' ]; then echo "Failed to ${behaviour.failOn}: Access denied" >&2; exit 1; fi\n`) +
      'exit 0\n',
  );
  chmodSync(systemctl, 0o755);
  mkdirSync(join(dir, 'run-systemd-system'));
  mkdirSync(join(dir, 'etc'));
  const out: string[] = [];
  const err: string[] = [];
  return {
    unitPath: join(dir, 'etc', 'berth.service'),
    systemdMarker: join(dir, 'run-systemd-system'),
    systemctl,
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
    out,
    err,
    io: { out: (text) => void out.push(text), err: (text) => void err.push(text) },
  };
}

test('install writes the unit 0644, reloads systemd and enables and starts it; a changed unit is restarted, an unchanged one is not', async (t) => {
  const machine = await fakeMachine(t);
  const install = (args: string[]) => installService({ ...machine, args, serverOptions: OPTIONS, print: false, cwd: '/srv' });
  await install(['--http', ':80', '--state', 'berth']);
  const unit = readFileSync(machine.unitPath, 'utf8');
  assert.equal(unit, serviceUnit({ node: process.execPath, entry: ENTRY, flags: ['--state', '/srv/berth', '--http', ':80'] }));
  assert.equal(statSync(machine.unitPath).mode & 0o777, 0o644);
  assert.deepEqual(machine.calls(), ['daemon-reload', 'enable --now berth.service']);
  assert.match(machine.out.join(''), /^installed .*berth\.service: berth server --state \/srv\/berth --http :80 runs now, starts at boot and restarts on failure\n/);

  await install(['--http', ':80', '--state', 'berth']);
  assert.deepEqual(machine.calls().slice(2), ['daemon-reload', 'enable --now berth.service']);
  await install(['--http', ':8080', '--state', 'berth']);
  assert.deepEqual(machine.calls().slice(4), ['daemon-reload', 'enable --now berth.service', 'restart berth.service']);
  assert.match(readFileSync(machine.unitPath, 'utf8'), /"--http" ":8080"/);
});

test('install never replaces a unit it did not write, and refuses bad flags before writing anything', async (t) => {
  const machine = await fakeMachine(t);
  writeFileSync(machine.unitPath, '[Service]\nExecStart=/usr/bin/something-else\n');
  await assert.rejects(installService({ ...machine, args: [], serverOptions: OPTIONS, print: false, cwd: '/' }), (err: Error & { code?: string }) => err.code === 'BERTH_E_SERVICE' && /was not written by berth server install; nothing was changed/.test(err.message));
  assert.equal(readFileSync(machine.unitPath, 'utf8'), '[Service]\nExecStart=/usr/bin/something-else\n');
  const other = await fakeMachine(t);
  await assert.rejects(installService({ ...other, args: ['--htp', ':80'], serverOptions: OPTIONS, print: false, cwd: '/' }), usage(/no flag --htp/));
  assert.equal(existsSync(other.unitPath), false);
  assert.deepEqual([...machine.calls(), ...other.calls()], []);
});

test('install refuses while a berth server started by hand holds the state folder (the service would fail at every start)', async (t) => {
  const state = await tempDir(t, 'berth-state-');
  const lock = StateLock.acquire(state); // this process plays the running daemon
  t.after(() => lock.release());
  const machine = await fakeMachine(t, { mainPid: 0 });
  await assert.rejects(
    installService({ ...machine, args: ['--state', state], serverOptions: OPTIONS, print: false, cwd: '/' }),
    (err: Error & { code?: string; hint?: string }) => err.code === 'BERTH_E_STATE_LOCKED' && err.message.includes(`(pid ${process.pid}) already runs on ${state}`) && err.hint!.includes(`kill ${process.pid}`),
  );
  assert.equal(existsSync(machine.unitPath), false);
  // The service's own daemon holding it is a re-install: allowed.
  const service = await fakeMachine(t, { mainPid: process.pid });
  await installService({ ...service, args: ['--state', state], serverOptions: OPTIONS, print: false, cwd: '/' });
  assert.equal(existsSync(service.unitPath), true);
});

test('a failing systemctl is BERTH_E_SERVICE, with systemd\'s own words shown', async (t) => {
  const machine = await fakeMachine(t, { failOn: 'enable' });
  await assert.rejects(installService({ ...machine, args: [], serverOptions: OPTIONS, print: false, cwd: '/' }), (err: Error & { code?: string }) => err.code === 'BERTH_E_SERVICE' && /^systemctl enable --now berth\.service failed/.test(err.message));
  assert.match(machine.err.join(''), /Failed to enable: Access denied/);
});

test('uninstall stops, disables and removes the unit, then reloads systemd; nothing installed is nothing to do; a foreign unit stays', async (t) => {
  const machine = await fakeMachine(t);
  await installService({ ...machine, args: [], serverOptions: OPTIONS, print: false, cwd: '/' });
  await uninstallService(machine);
  assert.equal(existsSync(machine.unitPath), false);
  assert.deepEqual(machine.calls().slice(2), ['disable --now berth.service', 'daemon-reload']);
  assert.match(machine.out.at(-1)!, /^stopped, disabled and removed berth\.service; berth's state folder stays as it was\n$/);
  await uninstallService(machine);
  assert.match(machine.out.at(-1)!, /^no berth service is installed \(no .*\): nothing to do\n$/);
  assert.equal(machine.calls().length, 4);
  writeFileSync(machine.unitPath, '[Service]\n');
  await assert.rejects(uninstallService(machine), (err: Error & { code?: string }) => err.code === 'BERTH_E_SERVICE');
  assert.equal(readFileSync(machine.unitPath, 'utf8'), '[Service]\n');
});

test('without systemd as PID 1 (this machine), the real CLI prints the unit and writes nothing; --print prints it anywhere', async (t) => {
  assert.equal(existsSync('/run/systemd/system'), false, 'this test runs where systemd does not run the machine (else install would install for real)');
  const cwd = await tempDir(t, 'berth-service-cwd-');
  const unitExisted = existsSync('/etc/systemd/system/berth.service');
  const install = await runBerth(['server', 'install', '--http', ':8080', '--state', 'data', '--no-acme'], { cwd, timeoutMs: 60_000 });
  assert.equal(install.code, 1, install.output);
  assert.ok(install.output.startsWith(UNIT_MARKER), install.output);
  assert.match(install.output, new RegExp(`^ExecStart="${process.execPath.replace(/[.]/g, '\\.')}" "${ENTRY.replace(/[.]/g, '\\.')}" "server" "--state" "${join(cwd, 'data')}" "--http" ":8080" "--no-acme"$`, 'm'));
  assert.match(install.output, /^berth: systemd does not run this machine \(there is no \/run\/systemd\/system\), so nothing was installed; the unit is printed above \[BERTH_E_NO_SYSTEMD\]$/m);
  assert.equal(existsSync('/etc/systemd/system/berth.service'), unitExisted);

  const printed = await runBerth(['server', 'install', '--print', '--https', ':443'], { cwd, timeoutMs: 60_000 });
  assert.equal(printed.code, 0, printed.output);
  assert.match(printed.output, /"server" "--state" "\/var\/lib\/berth" "--https" ":443"$/m);
  const misspelt = await runBerth(['server', 'install', '--print', '--htps', ':443'], { cwd, timeoutMs: 60_000 });
  assert.equal(misspelt.code, 1);
  assert.match(misspelt.output, /berth server has no flag --htps \[BERTH_E_USAGE\]/);

  const uninstall = await runBerth(['server', 'uninstall'], { cwd, timeoutMs: 60_000 });
  assert.equal(uninstall.code, 1);
  assert.match(uninstall.output, /so nothing was changed \[BERTH_E_NO_SYSTEMD\]/);
});
