import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { BerthError } from '../errors.ts';
import { escapeControls } from '../terminal-text.ts';
import { HOOK_PUSH_ENV, HOOK_SOCKET_ENV } from './hook-script.ts';
import { parseRefUpdates, type RefUpdate } from './ref-policy.ts';

/** A push in progress: which app, and who pushes (the audit actor). */
export interface Push {
  readonly app: string;
  readonly actor: string;
}

/** What the daemon says to a hook while it handles its push. */
export interface HookConversation {
  /** A line for the pusher's terminal (git prints it as "remote: …"). */
  line(text: string): void;
  /** Asks the hook for `git archive REV` and returns the tar stream. */
  archive(rev: string): Readable;
}

/** Decides a push: resolves with the verdict's message, or rejects with the reason (the push is refused). */
export type PushHandler = (push: Push, updates: readonly RefUpdate[], conversation: HookConversation) => Promise<string>;

export interface HookChannelOptions {
  /** STATE/run/git-hook.sock */
  readonly socketPath: string;
  readonly handler: PushHandler;
  readonly log: (line: string) => void;
  /** How long a hook has to present its push after connecting. */
  readonly helloTimeoutMs?: number;
}

const MAX_HELLO_BYTES = 256 * 1024;
/** Linux's sun_path holds 108 bytes, the last a NUL. */
const MAX_SOCKET_PATH = 107;

interface Session {
  readonly push: Push;
  readonly secret: Buffer;
  used: boolean;
}

/**
 * The daemon's end of the pre-receive hook: a Unix socket (0600, in a 0700
 * folder) where hooks present a one-time push secret and get the daemon's
 * decision. A secret is made per receive-pack run, travels only in that
 * process's environment, is accepted once, and is forgotten when the run
 * ends; so only a hook of a push berth itself started can deploy.
 */
export class HookChannel {
  readonly #options: HookChannelOptions;
  readonly #server: Server;
  readonly #sessions = new Map<string, Session>();
  readonly #sockets = new Set<Socket>();

  private constructor(options: HookChannelOptions, server: Server) {
    this.#options = options;
    this.#server = server;
  }

  static async listen(options: HookChannelOptions): Promise<HookChannel> {
    const path = options.socketPath;
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new BerthError('BERTH_E_LISTEN', `the git hook socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes`, { hint: 'Use a shorter --state folder.' });
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await chmod(dirname(path), 0o700);
    if (await answers(path)) {
      throw new BerthError('BERTH_E_LISTEN', `another berth server is using ${path}`, { hint: 'Run one berth server per --state folder.' });
    }
    await rm(path, { force: true });
    const server = createServer({ allowHalfOpen: true });
    const channel = new HookChannel(options, server);
    server.on('connection', (socket: Socket) => channel.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new BerthError('BERTH_E_LISTEN', `cannot listen on ${path}: ${err.code ?? err.message}`)));
      server.listen(path, () => resolve());
    });
    await chmod(path, 0o600);
    return channel;
  }

  /**
   * Registers a push and returns the environment for its receive-pack (the
   * socket path and the secret) and a function that forgets it.
   */
  open(push: Push): { readonly env: Record<string, string>; readonly close: () => void } {
    const id = randomBytes(12).toString('hex');
    const secret = randomBytes(32);
    this.#sessions.set(id, { push, secret, used: false });
    return {
      env: { [HOOK_SOCKET_ENV]: this.#options.socketPath, [HOOK_PUSH_ENV]: `${id}.${secret.toString('hex')}` },
      close: () => void this.#sessions.delete(id),
    };
  }

  /** The session a hook's secret belongs to, once; null for anything else. */
  #claim(presented: unknown): Session | null {
    if (typeof presented !== 'string') return null;
    const [id, secretHex, ...rest] = presented.split('.');
    if (rest.length > 0 || id === undefined || secretHex === undefined || !/^[0-9a-f]{64}$/.test(secretHex)) return null;
    const session = this.#sessions.get(id);
    if (session === undefined) return null;
    if (!timingSafeEqual(session.secret, Buffer.from(secretHex, 'hex')) || session.used) return null;
    session.used = true;
    return session;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const send = (message: object) => {
      if (!socket.writable) return;
      socket.write(`${JSON.stringify(message)}\n`);
    };
    let archived = false;
    const finish = (ok: boolean, message: string) => {
      send({ done: true, ok, message: escapeControls(message, { keepNewlines: true }) });
      socket.end();
      // Unread input (a hook that was not asked for an archive sends none) must not keep the socket open.
      if (!archived) socket.resume();
    };
    socket.setTimeout(this.#options.helloTimeoutMs ?? 10_000, () => socket.destroy());
    let hello = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      hello = Buffer.concat([hello, chunk]);
      const newline = hello.indexOf(0x0a);
      if (newline === -1) {
        if (hello.length > MAX_HELLO_BYTES) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      const rest = hello.subarray(newline + 1);
      if (rest.length > 0) socket.unshift(rest);
      let message: { push?: unknown; updates?: unknown };
      try {
        message = JSON.parse(hello.subarray(0, newline).toString('utf8')) as typeof message;
      } catch {
        return finish(false, 'berth: the hook sent something berth does not understand; the push is refused');
      }
      const session = this.#claim(message.push);
      if (session === null) return finish(false, 'berth: this push was not started by the berth daemon (or was already handled); it is refused');
      const updates = typeof message.updates === 'string' ? parseRefUpdates(message.updates) : null;
      if (updates === null) return finish(false, 'berth: the hook sent malformed ref updates; the push is refused');
      const conversation: HookConversation = {
        // git prints these as `remote: …` on the pusher's terminal: a build's escape sequences are shown, not obeyed.
        line: (text) => send({ line: escapeControls(text) }),
        archive: (rev) => {
          if (archived) throw new Error('archive() may be called once per push');
          archived = true;
          send({ send: rev });
          const tar = new PassThrough();
          socket.pipe(tar);
          socket.resume();
          return tar;
        },
      };
      this.#options.handler(session.push, updates, conversation).then(
        (message) => finish(true, message),
        (err: unknown) => {
          if (!(err instanceof BerthError)) this.#options.log(`git push to ${session.push.app} failed: ${(err as Error)?.stack ?? String(err)}`);
          finish(false, pushError(err));
        },
      );
    };
    socket.on('data', onData);
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sessions.clear();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** A refusal as the pusher reads it: the message, the code, and what to do. */
function pushError(err: unknown): string {
  if (err instanceof BerthError) return `berth: push refused: ${err.message} [${err.code}]${err.hint ? `\nhint: ${err.hint}` : ''}`;
  return 'berth: push refused: internal error; the daemon log has the details';
}

/** Whether something accepts connections on a Unix socket path (a running daemon). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
