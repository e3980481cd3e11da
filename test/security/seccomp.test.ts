// The default seccomp filter in a real sandbox: bwrap installs berth's
// program (`--seccomp 3`, the bytes written to fd 3) and runs a hostile
// probe (seccomp-probe.py) that tries kernel interfaces an app has no
// business with: keyrings, bpf, perf, userfaultfd, io_uring, new
// namespaces, mounts, setns, vsock, 32-bit and x32 system calls, … Without
// the filter they work (for the app's own user, many of them; for root,
// all), with it each is refused, while ordinary work (threads, fork, files,
// sockets, exec, tracing its own child) goes on, in Python and in Node.
// The app's user is reached the way berth's launcher does it: bwrap, then
// setpriv to the user with no capabilities and no_new_privs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultSeccompProgram, seccompArch } from '../../src/sandbox/index.ts';
import { SYSCALL_NUMBERS } from '../../src/sandbox/syscall-table.ts';

if (process.getuid?.() !== 0) throw new Error('bwrap sandboxes as berth makes them need root: run the tests as root');
const arch = seccompArch();
if (arch === null) throw new Error(`berth has no seccomp filter for ${process.arch}: these tests need x64 or arm64`);
for (const program of ['/usr/bin/bwrap', '/usr/bin/setpriv', '/usr/bin/python3']) {
  if (!existsSync(program)) throw new Error(`${program} is missing (Debian packages bubblewrap, util-linux, python3)`);
}

const PROBE = fileURLToPath(new URL('./seccomp-probe.py', import.meta.url));
const NUMBERS = JSON.stringify(Object.fromEntries(Object.entries(SYSCALL_NUMBERS).map(([name, numbers]) => [name, numbers[arch]])));
const APP_UID = 65534; // nobody: a user with nothing of its own, as an app's user is to the rest of the machine
const TIMEOUT_MS = 60_000;
const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;
const SIGSYS = 'signal 31';

/** What the filter answers each attack: EPERM, clone3 ENOSYS (so libc falls back to clone), other ABIs killed. */
const REFUSED: Record<string, number | string> = {
  keyctl: EPERM,
  add_key: EPERM,
  bpf: EPERM,
  perf_event_open: EPERM,
  userfaultfd: EPERM,
  io_uring_setup: EPERM,
  unshare_user: EPERM,
  clone_newns: EPERM,
  clone3_newuser: ENOSYS,
  mount: EPERM,
  fsopen: EPERM,
  open_tree: EPERM,
  setns: EPERM,
  personality_no_aslr: EPERM,
  vsock: EPERM,
  kcmp: EPERM,
  name_to_handle_at: EPERM,
  pidfd_getfd: EPERM,
  fanotify_init: EPERM,
  settimeofday_nothing: EPERM,
  clock_adjtime_read: EPERM,
  syslog_size: EPERM,
  ...(arch === 'x64' ? { x32_getpid: SIGSYS, int80_getpid: SIGSYS } : {}),
};
/** Attacks open to an app's user (no capabilities, no_new_privs) on a stock kernel when nothing filters them. */
const OPEN_TO_APPS = ['keyctl', 'add_key', 'unshare_user', 'clone3_newuser', 'io_uring_setup', 'open_tree', 'personality_no_aslr', 'kcmp', 'name_to_handle_at', 'pidfd_getfd', 'clock_adjtime_read', ...(arch === 'x64' ? ['int80_getpid'] : [])];
const ORDINARY = ['thread', 'fork', 'files', 'sockets', 'execve', 'unshare_fs', 'personality_query', 'ptrace_own_child', 'process_vm_readv_self', 'clone_fork'];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv in a sandbox shaped like berth's (own pid, ipc, uts and mount namespaces, the system read-only, a private /tmp), as the app's user or root, with the filter or without. */
function sandboxed(argv: readonly string[], options: { asApp: boolean; filter: boolean }): Promise<Run> {
  const bwrap = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--perms', '01777', '--tmpfs', '/tmp', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session'];
  if (options.filter) bwrap.push('--seccomp', '3');
  const drop = options.asApp ? ['/usr/bin/setpriv', '--reuid', String(APP_UID), '--regid', String(APP_UID), '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'] : [];
  const child = spawn('/usr/bin/bwrap', [...bwrap, '--', ...drop, ...argv], { stdio: ['ignore', 'pipe', 'pipe', options.filter ? 'pipe' : 'ignore'], cwd: '/' });
  if (options.filter) (child.stdio[3] as NodeJS.WritableStream).end(defaultSeccompProgram(arch!));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sandbox did not finish in ${TIMEOUT_MS} ms: ${argv.join(' ')}\n${stderr}`));
    }, TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

type ProbeResults = { attacks: Record<string, number | string>; ordinary: Record<string, number | string> };
const probes = new Map<string, Promise<ProbeResults>>();

/** The probe's results, once per (user, filter). */
function probe(asApp: boolean, filter: boolean): Promise<ProbeResults> {
  const key = `${asApp}/${filter}`;
  let results = probes.get(key);
  if (results === undefined) {
    results = sandboxed(['/usr/bin/python3', PROBE, NUMBERS], { asApp, filter }).then((run) => {
      assert.equal(run.code, 0, `the probe failed (${key}):\n${run.stderr}`);
      return JSON.parse(run.stdout) as ProbeResults;
    });
    probes.set(key, results);
  }
  return results;
}

test("without the filter, an app's user reaches keyrings, io_uring, user namespaces, 32-bit system calls, … (the attack surface)", async () => {
  const { attacks } = await probe(true, false);
  for (const name of OPEN_TO_APPS) assert.equal(attacks[name], 0, `${name}: ${attacks[name]}`);
});

test('without the filter, root with its capabilities gets every one of them (so each refusal below is the filter’s)', async () => {
  const { attacks } = await probe(false, false);
  for (const name of Object.keys(REFUSED)) {
    if (name === 'x32_getpid') assert.notEqual(attacks[name], SIGSYS, 'x32: the kernel answers (ENOSYS where the x32 ABI is off), nothing kills');
    else if (name === 'vsock') assert.ok(attacks[name] === 0 || attacks[name] === EAFNOSUPPORT, `vsock: ${attacks[name]} (made, or no vsock on this machine)`);
    else assert.equal(attacks[name], 0, `${name}: ${attacks[name]}`);
  }
});

test("with the filter, every attack is refused for the app's user", async () => {
  const { attacks } = await probe(true, true);
  assert.deepEqual(attacks, REFUSED);
});

test('with the filter, every attack is refused even for root with every capability', async () => {
  const { attacks } = await probe(false, true);
  assert.deepEqual(attacks, REFUSED);
});

test('ordinary work goes on under the filter: threads, fork, files, sockets, exec, unshare(CLONE_FS), tracing its own child', async () => {
  const expected = Object.fromEntries(ORDINARY.map((name) => [name, 0]));
  for (const [asApp, filter] of [[true, true], [false, true], [true, false]] as const) {
    const { ordinary } = await probe(asApp, filter);
    assert.deepEqual(ordinary, expected, `${asApp ? 'app user' : 'root'}, ${filter ? 'filtered' : 'unfiltered'}`);
  }
});

test('Node runs under the filter as the app: worker threads, the thread pool, child processes, sockets', async () => {
  const script = `
    const fs = require('node:fs'), net = require('node:net'), cp = require('node:child_process'), { Worker } = require('node:worker_threads');
    const seccomp = /^Seccomp:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1];
    new Worker('require("node:worker_threads").parentPort.postMessage(6 * 7)', { eval: true }).once('message', async (worker) => {
      await fs.promises.writeFile('/tmp/berth-node', 'written');
      const read = await fs.promises.readFile('/tmp/berth-node', 'utf8');
      const child = cp.execFileSync('/bin/sh', ['-c', 'echo from a child']).toString().trim();
      const server = net.createServer((socket) => socket.end('pong')).listen(0, '127.0.0.1', () => {
        net.connect(server.address().port, '127.0.0.1').on('data', (reply) => {
          console.log(JSON.stringify({ seccomp, uid: process.getuid(), worker, read, child, reply: String(reply) }));
          process.exit(0);
        });
      });
    });`;
  const run = await sandboxed([process.execPath, '-e', script], { asApp: true, filter: true });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { seccomp: '2', uid: APP_UID, worker: 42, read: 'written', child: 'from a child', reply: 'pong' });
});
