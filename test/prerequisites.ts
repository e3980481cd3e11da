// Runs before the suite: the tests drive real gunicorn and Flask, so say
// exactly what is missing (and install it when we can) instead of letting
// a dozen tests fail obscurely.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';

const missing: string[] = [];
const has = (file: string, args: string[]) => {
  try {
    execFileSync(file, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
// Debian's own Python: the examples' virtualenvs use its packages
// (system_site_packages), whatever python3 comes first on PATH.
if (!has('gunicorn', ['--version'])) missing.push('gunicorn');
if (!has('/usr/bin/python3', ['-c', 'import flask'])) missing.push('python3-flask');
if (!has('/usr/bin/python3', ['-c', 'import uvicorn'])) missing.push('python3-uvicorn');
if (!has('/usr/bin/python3', ['-m', 'pip', '--version'])) missing.push('python3-pip');
// The certificate tests run a real ACME server (and its DNS stand-in).
if (!has('pebble', ['-h'])) missing.push('pebble');
// The dashboard test drives Debian's Chromium (through playwright-core).
if (!has('/usr/bin/chromium', ['--version'])) missing.push('chromium');
// The add-ons run real PostgreSQL and Redis servers from Debian's binaries;
// the Flask example talks to them with psycopg2 and redis-py.
const postgresVersions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
if (!postgresVersions.some((version) => existsSync(`/usr/lib/postgresql/${version}/bin/initdb`))) missing.push('postgresql');
if (!has('redis-server', ['--version'])) missing.push('redis-server');
if (!has('redis-cli', ['--version'])) missing.push('redis-tools');
if (!has('/usr/bin/python3', ['-c', 'import psycopg2'])) missing.push('python3-psycopg2');
if (!has('/usr/bin/python3', ['-c', 'import redis'])) missing.push('python3-redis');
// Sandboxes: bwrap runs the seccomp attack tests; the kernel's uapi headers
// are what the seccomp filter's system call table is checked against.
if (!has('bwrap', ['--version'])) missing.push('bubblewrap');
if (!existsSync('/usr/include/asm-generic/unistd.h')) missing.push('linux-libc-dev');
// Every app's network: its namespace's links (ip), its rules (nft), its way out (slirp4netns).
if (!has('slirp4netns', ['--version'])) missing.push('slirp4netns');
if (!has('nft', ['--version'])) missing.push('nftables');
if (!has('ip', ['-V'])) missing.push('iproute2');
if (!has('setpriv', ['--version']) || !has('nsenter', ['--version'])) missing.push('util-linux');
// berth server install's unit is checked by systemd's own parser (systemd-analyze verify; no running systemd needed).
if (!has('systemd-analyze', ['--version'])) missing.push('systemd');
// OCI images: Docker's registry, skopeo and runc read and run what berth
// builds; a static busybox is the test's base image; htpasswd makes users.
if (!has('docker-registry', ['--version'])) missing.push('docker-registry');
if (!has('skopeo', ['--version'])) missing.push('skopeo');
if (!has('runc', ['--version'])) missing.push('runc');
if (!has('dpkg', ['-s', 'busybox-static'])) missing.push('busybox-static');
if (!has('htpasswd', ['-nbB', 'probe', 'probe'])) missing.push('apache2-utils');
// The Kubernetes client's tests run a real API server (../shared/k8s/start-cluster): etcd from Debian, the binaries unpacked with xz.
if (!has('etcd', ['--version'])) missing.push('etcd-server');
if (!has('xz', ['--version'])) missing.push('xz-utils');
// berth run's pseudo-terminal: util-linux's script, which Debian ships in bsdutils.
if (!has('/usr/bin/script', ['--version'])) missing.push('bsdutils');

if (missing.length > 0) {
  const canInstall = process.getuid?.() === 0 && has('apt-get', ['--version']);
  if (canInstall) {
    process.stdout.write(`installing test prerequisites: ${missing.join(' ')}\n`);
    // No package may start its system service (docker-registry would listen on :5000), as in .ci/run.
    const policy = '/usr/sbin/policy-rc.d';
    const ownPolicy = !existsSync(policy);
    if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } finally {
      if (ownPolicy) rmSync(policy, { force: true });
    }
  } else {
    process.stderr.write(`the tests need these Debian packages: ${missing.join(' ')}\nrun: sudo apt-get install -y ${missing.join(' ')}\n`);
    process.exit(1);
  }
}
