// Base images made in the test from this machine's runtimes, moved to
// prefixes the host does not have, so a build that used the image's runtime
// is told from one that used the host's. Python: Debian's Python at
// /opt/basepython — the interpreter, its standard library (without the test
// suite and the static library), pip and gunicorn from Debian's
// dist-packages. Node: the system's Node 20 (berth runs on 24) and npm at
// /opt/basenode, /usr/bin/env for npm's shebang and sh for its scripts, the CA bundle for the
// registry. Each with the libraries `ldd` says they load, tarred with
// node-tar (mtimes kept, so Python's bytecode caches stay valid), gzipped
// fast, pushed as one OCI manifest under `latest`.
import { execFileSync } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { create } from 'tar';
import { digestOf, mediaTypes, type Digest, type RegistryClient } from '../../src/oci/index.ts';

export const BASE_PREFIX = '/opt/basepython';
export const BASE_PYTHON = `${BASE_PREFIX}/bin/python3`;
export const PYTHON_BASE_PATH = `${BASE_PREFIX}/bin:/usr/bin:/bin`;
const HOST_PYTHON = '/usr/bin/python3.11';
const HOST_STDLIB = '/usr/lib/python3.11';
const HOST_DIST = '/usr/lib/python3/dist-packages';
const LEFT_OUT = new Set(['test', 'lib2to3', 'config-3.11-x86_64-linux-gnu', 'ensurepip', 'turtledemo', 'idlelib', 'tkinter']);

interface Cleanups {
  after(fn: () => unknown): void;
}

/** The libraries these programs load (ldd), by path. */
function librariesOf(programs: readonly string[]): Set<string> {
  const found = new Set<string>();
  for (const program of programs) {
    const out = execFileSync('ldd', [program], { encoding: 'utf8' });
    for (const match of out.matchAll(/(\/\S+) \(0x/g)) found.add(match[1]!);
  }
  return found;
}

async function pythonRootfs(dir: string): Promise<void> {
  const prefix = join(dir, BASE_PREFIX);
  await mkdir(join(prefix, 'bin'), { recursive: true });
  await copyFile(HOST_PYTHON, join(prefix, 'bin', 'python3.11'));
  await symlink('python3.11', join(prefix, 'bin', 'python3'));
  await cp(HOST_STDLIB, join(prefix, 'lib', 'python3.11'), { recursive: true, preserveTimestamps: true, filter: (source) => !(dirname(source) === HOST_STDLIB && LEFT_OUT.has(basename(source))) });
  for (const name of ['pip', 'gunicorn', 'pkg_resources']) {
    await cp(join(HOST_DIST, name), join(prefix, 'lib', 'python3', 'dist-packages', name), { recursive: true, preserveTimestamps: true });
  }
  const dynload = join(HOST_STDLIB, 'lib-dynload');
  const modules = (await readdir(dynload)).filter((name) => name.endsWith('.so')).map((name) => join(dynload, name));
  await systemFiles(dir, [HOST_PYTHON, ...modules]);
}

/** The libraries the programs load, /etc basics and /tmp. */
async function systemFiles(dir: string, programs: readonly string[]): Promise<void> {
  await mkdir(join(dir, 'lib', 'x86_64-linux-gnu'), { recursive: true });
  await mkdir(join(dir, 'lib64'), { recursive: true });
  for (const library of librariesOf(programs)) {
    // The loader where the ELF header names it; the rest where it searches by default.
    const target = library.startsWith('/lib64/') ? join(dir, library) : join(dir, 'lib', 'x86_64-linux-gnu', basename(library));
    await copyFile(library, target);
  }
  await mkdir(join(dir, 'etc'), { recursive: true });
  await writeFile(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/false\n');
  await writeFile(join(dir, 'etc', 'group'), 'root:x:0:\n');
  await mkdir(join(dir, 'tmp'), { mode: 0o1777 });
}

export const NODE_PREFIX = '/opt/basenode';
export const NODE_BASE_PATH = `${NODE_PREFIX}/bin:/usr/bin:/bin`;
const HOST_NODE = '/usr/bin/node';
const HOST_NPM = '/usr/lib/node_modules/npm';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

async function nodeRootfs(dir: string): Promise<void> {
  const prefix = join(dir, NODE_PREFIX);
  await mkdir(join(prefix, 'bin'), { recursive: true });
  await copyFile(HOST_NODE, join(prefix, 'bin', 'node'));
  await cp(HOST_NPM, join(prefix, 'lib', 'node_modules', 'npm'), { recursive: true, preserveTimestamps: true });
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(prefix, 'bin', 'npm'));
  await mkdir(join(dir, 'usr', 'bin'), { recursive: true });
  await copyFile('/usr/bin/env', join(dir, 'usr', 'bin', 'env'));
  // npm runs scripts with sh.
  await mkdir(join(dir, 'bin'));
  await copyFile('/bin/dash', join(dir, 'bin', 'sh'));
  await mkdir(join(dir, 'etc', 'ssl', 'certs'), { recursive: true });
  await copyFile(CA_BUNDLE, join(dir, 'etc', 'ssl', 'certs', 'ca-certificates.crt'));
  await systemFiles(dir, [HOST_NODE, '/usr/bin/env', '/bin/dash']);
}

export interface PushedBase {
  readonly manifestDigest: Digest;
}

/** Builds the Python base and pushes it as `repository:latest`. */
export function pushPythonBase(t: Cleanups, client: RegistryClient, repository: string): Promise<PushedBase> {
  return pushHostBase(t, client, repository, pythonRootfs, [`PATH=${PYTHON_BASE_PATH}`, 'LANG=C.UTF-8', 'BASE_IMAGE=python-test']);
}

/** Builds the Node base and pushes it as `repository:latest`. */
export function pushNodeBase(t: Cleanups, client: RegistryClient, repository: string): Promise<PushedBase> {
  return pushHostBase(t, client, repository, nodeRootfs, [`PATH=${NODE_BASE_PATH}`, `NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`, 'BASE_IMAGE=node-test']);
}

async function pushHostBase(t: Cleanups, client: RegistryClient, repository: string, make: (dir: string) => Promise<void>, env: readonly string[]): Promise<PushedBase> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-hostbase-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await make(dir);
  const chunks: Buffer[] = [];
  for await (const chunk of create({ cwd: dir, portable: true }, await readdir(dir)) as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  const tar = Buffer.concat(chunks);
  const layer = gzipSync(tar, { level: 1 });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: env },
      rootfs: { type: 'layers', diff_ids: [digestOf(tar)] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: "test: this machine's runtime" }],
    }),
  );
  const push = async (bytes: Buffer) => {
    const digest = digestOf(bytes);
    await client.pushBlob(repository, { digest, size: bytes.length, open: async (start, end) => Readable.from([bytes.subarray(start, end)]) });
    return digest;
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mediaTypes.OCI_MANIFEST,
      config: { mediaType: mediaTypes.OCI_CONFIG, size: config.length, digest: await push(config) },
      layers: [{ mediaType: mediaTypes.OCI_LAYER_GZIP, size: layer.length, digest: await push(layer) }],
    }),
  );
  const manifestDigest = await client.putManifest(repository, 'latest', mediaTypes.OCI_MANIFEST, manifest);
  return { manifestDigest };
}
