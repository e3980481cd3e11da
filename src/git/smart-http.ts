import type { ChildProcess } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BerthError } from '../errors.ts';
import type { GitRunner } from './git-process.ts';
import { repositoryApp, serviceOf, type GitServiceName as ServiceName } from './repo-name.ts';

// git's smart HTTP protocol (gitprotocol-http(5)), as git-http-backend
// serves it, on top of `git receive-pack|upload-pack --stateless-rpc`:
//
//   GET  /git/NAME.git/info/refs?service=git-SERVICE   the ref advertisement
//   POST /git/NAME.git/git-SERVICE                      one request, one result
//
// berth speaks protocol version 0/1 (a v2 client falls back to it) and no
// dumb HTTP. The caller authenticates; these functions check everything
// else before starting git, so a refusal is a JSON error with a real status.

/** The most bytes of a request body git may send (after gzip is undone): a push of this size is refused. */
export const MAX_GIT_REQUEST_BYTES = 512 * 1024 * 1024;
/**
 * A push or fetch with no traffic either way for this long is cut, so a
 * stalled client cannot hold its app's push turn for ever (a build's output,
 * "still building" lines included, counts as traffic).
 */
export const GIT_HTTP_IDLE_MS = 10 * 60_000;
const MAX_STDERR_BYTES = 8 * 1024;

/** What the API server does with an answer whose head and body the handler writes itself. */
export type RawAnswer = (res: ServerResponse, closed: AbortSignal) => Promise<void>;

/** One pkt-line: four hex digits of length (including themselves), then the data. */
export function pktLine(data: string): Buffer {
  const body = Buffer.from(data, 'utf8');
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0'), 'ascii'), body]);
}

const NO_CACHE = { 'cache-control': 'no-cache, max-age=0, must-revalidate', pragma: 'no-cache', expires: 'Fri, 01 Jan 1980 00:00:00 GMT' };

/** `GET /git/NAME.git/info/refs?service=…` */
export async function advertiseRefs(git: GitRunner, repo: string, serviceParam: string | null, actor: string): Promise<RawAnswer> {
  const service = serviceOf(serviceParam);
  if (service === null) {
    throw new BerthError('BERTH_E_GIT_SERVICE', serviceParam === null ? 'berth serves git over the smart HTTP protocol only (info/refs needs ?service=)' : `berth does not serve ${JSON.stringify(serviceParam.slice(0, 40))}`, {
      status: 400,
      hint: 'Use git 1.7 or newer; berth serves git-receive-pack (push) and git-upload-pack (fetch, clone).',
    });
  }
  const app = repositoryApp(repo);
  const child = await git.open(service, app, actor, { stateless: true, advertise: true });
  const [stdout, outcome] = await Promise.all([collect(child.stdout!, Number.MAX_SAFE_INTEGER), exitOf(child)]);
  if (outcome.code !== 0) throw gitFailed(service, app, outcome.stderr);
  return async (res) => {
    const body = Buffer.concat([pktLine(`# service=git-${service}\n`), Buffer.from('0000', 'ascii'), stdout]);
    res.writeHead(200, { 'content-type': `application/x-git-${service}-advertisement`, 'content-length': body.length, ...NO_CACHE });
    res.end(body);
  };
}

/** `POST /git/NAME.git/git-SERVICE`: the client's request into git, git's result back, streamed both ways. */
export async function serviceRpc(git: GitRunner, repo: string, service: ServiceName, req: IncomingMessage, actor: string, log: (line: string) => void): Promise<RawAnswer> {
  const app = repositoryApp(repo);
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== `application/x-git-${service}-request`) {
    throw new BerthError('BERTH_E_GIT_SERVICE', `a git-${service} request must have the content type application/x-git-${service}-request`, { status: 415 });
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new BerthError('BERTH_E_GIT_SERVICE', `berth cannot read a request body encoded as ${JSON.stringify(encoding.slice(0, 40))}`, { status: 415 });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_GIT_REQUEST_BYTES) throw new BerthError('BERTH_E_TOO_LARGE', `the push is larger than ${MAX_GIT_REQUEST_BYTES} bytes`, { status: 413 });
  const child = await git.open(service, app, actor, { stateless: true, advertise: false });
  return async (res, closed) => {
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    closed.addEventListener('abort', stop);
    if (closed.aborted || req.socket.destroyed) stop();
    const socket = req.socket;
    const onIdle = () => socket.destroy();
    socket.setTimeout(GIT_HTTP_IDLE_MS);
    socket.once('timeout', onIdle);
    const outcome = exitOf(child);
    res.writeHead(200, { 'content-type': `application/x-git-${service}-result`, ...NO_CACHE });
    child.stdout!.pipe(res, { end: false });
    const fed = encoding === 'identity' ? pipeline(req, limitBytes(MAX_GIT_REQUEST_BYTES), child.stdin!) : pipeline(req, createGunzip(), limitBytes(MAX_GIT_REQUEST_BYTES), child.stdin!);
    const feeding = fed.catch((err: unknown) => {
      // A broken request (bad gzip, over the limit, the client gone) ends git; its exit says the rest.
      log(`git ${service} for ${app}: the request body ended badly: ${(err as Error).message}`);
      stop();
    });
    const { code, stderr } = await outcome;
    await feeding;
    closed.removeEventListener('abort', stop);
    socket.off('timeout', onIdle);
    socket.setTimeout(0);
    if (code !== 0 && !closed.aborted) log(gitFailed(service, app, stderr).message);
    if (code === 0) res.end();
    else res.destroy();
  };
}

/** Counts bytes through; more than `max` is an error. */
function limitBytes(max: number): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      if (total > max) return callback(new BerthError('BERTH_E_TOO_LARGE', `the request is larger than ${max} bytes`, { status: 413 }));
      callback(null, chunk);
    },
  });
}

function collect(stream: Readable, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** The process's exit code and the first bytes of its stderr. */
function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  const stderr = collect(child.stderr!, MAX_STDERR_BYTES);
  return new Promise((resolve) => {
    child.once('error', async () => resolve({ code: null, stderr: (await stderr.catch(() => Buffer.alloc(0))).toString('utf8') }));
    child.once('close', async (code: number | null) => resolve({ code, stderr: (await stderr.catch(() => Buffer.alloc(0))).toString('utf8') }));
  });
}

function gitFailed(service: ServiceName, app: string, stderr: string): BerthError {
  const detail = stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 500);
  return new BerthError('BERTH_E_INTERNAL', `git ${service} failed on ${app}'s repository${detail ? `: ${detail}` : ''}`, { status: 500 });
}
