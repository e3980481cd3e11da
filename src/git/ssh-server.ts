import type { ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel, Session } from 'ssh2';
import { listenOn } from '../listen.ts';
import { BerthError, isBerthError } from '../errors.ts';
import type { GitRunner } from './git-process.ts';
import { parseSshCommand, type GitServiceName as ServiceName } from './repo-name.ts';
import { fingerprintOf } from './ssh-keys.ts';
import { terminalSize, terminalType } from '../runner/index.ts';
import type { OneOffRun, RunRequest } from '../platform/one-off-runs.ts';
import { isRunCommand, parseRunCommand, runSignal, serveRun, type RunStarter } from './ssh-run.ts';

/** A registered key, as the server needs it. */
export interface SshKeyRecord {
  readonly name: string;
  readonly publicKey: string;
}

export interface GitSshServerOptions {
  /** The host key, OpenSSH private key text. */
  readonly hostKey: string;
  /** The active key with this fingerprint ("SHA256:…"), or null. */
  readonly findKey: (fingerprint: string) => SshKeyRecord | null;
  /** The audit actor for a key name ("ssh:NAME"). */
  readonly actorOf: (keyName: string) => string;
  readonly git: GitRunner;
  /** One-off runs (`run APP -- COMMAND`), for every registered key, as git push is; absent: git only. */
  readonly runs?: RunStarter | null;
  readonly log: (line: string) => void;
  /** A connection with no traffic either way for this long is closed. */
  readonly idleTimeoutMs?: number;
  /** A connection must authenticate within this long. */
  readonly authTimeoutMs?: number;
  /** Connections beyond this many at once are closed at once. */
  readonly maxConnections?: number;
}

export const SSH_DEFAULTS = {
  idleTimeoutMs: 10 * 60_000,
  authTimeoutMs: 30_000,
  maxConnections: 32,
  /** Failed authentication attempts before the connection is closed (ssh offers each key it has). */
  maxAuthAttempts: 10,
  /** Sessions open at once on one connection (git needs one; a multiplexing client may overlap a few). */
  maxSessionsPerConnection: 4,
} as const;

/** Environment a client may send: git's protocol version, nothing else. */
const GIT_PROTOCOL = /^version=[0-2]$/;

/**
 * git over SSH, and one-off runs: public-key authentication against the
 * registered keys (signatures verified), then exactly one `exec` of
 * `git-receive-pack 'NAME.git'` or `git-upload-pack 'NAME.git'` per session,
 * or, when `runs` is given, `run APP -- COMMAND` (ssh-run.ts; a pty request,
 * accepted only then, gives a run a pseudo-terminal made in its sandbox, and
 * git ignores it; INT/TERM/HUP/QUIT signal requests reach a run). Shells,
 * other commands (scp included), subsystems (sftp), X11 and
 * agent forwarding, port forwarding both ways and Unix-socket forwarding are
 * refused: session requests with a message on stderr and exit status 1,
 * the rest with SSH's own refusals.
 */
export class GitSshServer {
  readonly #options: GitSshServerOptions;
  readonly #ssh: ssh2.Server;
  readonly #tcp: NetServer;
  readonly #sockets = new Set<Socket>();
  /** git commands running for clients now (a push in progress). */
  #running = 0;

  constructor(options: GitSshServerOptions) {
    this.#options = options;
    this.#ssh = new ssh2.Server({ hostKeys: [options.hostKey], ident: 'berth' }, (client, info) => this.#onClient(client, info.ip));
    // berth owns the TCP side (connection limit, idle timeout) and hands each socket to ssh2.
    this.#tcp = createServer((socket) => this.#onSocket(socket));
  }

  #onSocket(socket: Socket): void {
    const max = this.#options.maxConnections ?? SSH_DEFAULTS.maxConnections;
    if (this.#sockets.size >= max) {
      this.#options.log(`ssh: refused a connection from ${socket.remoteAddress}: ${max} connections are open`);
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.setTimeout(this.#options.idleTimeoutMs ?? SSH_DEFAULTS.idleTimeoutMs, () => socket.destroy());
    socket.setNoDelay(true);
    this.#ssh.injectSocket(socket);
  }

  #onClient(client: Connection, ip: string): void {
    let keyName: string | null = null;
    let failures = 0;
    const authTimer = setTimeout(() => client.end(), this.#options.authTimeoutMs ?? SSH_DEFAULTS.authTimeoutMs);
    client.on('error', () => {});
    client.once('close', () => clearTimeout(authTimer));

    client.on('authentication', (ctx: AuthContext) => {
      const refuse = () => {
        if (++failures >= SSH_DEFAULTS.maxAuthAttempts) {
          this.#options.log(`ssh: ${ip} failed to authenticate ${failures} times; disconnected`);
          client.end();
          return;
        }
        ctx.reject(['publickey']);
      };
      if (ctx.method !== 'publickey') return refuse();
      const key = this.#options.findKey(fingerprintOf(ctx.key.data));
      if (key === null) return refuse();
      const parsed = ssh2.utils.parseKey(key.publicKey);
      if (parsed instanceof Error || Array.isArray(parsed) || !parsed.getPublicSSH().equals(ctx.key.data)) return refuse();
      // Without a signature the client only asks whether this key would do.
      if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
      if (parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
        this.#options.log(`ssh: a bad signature for key ${key.name} from ${ip}`);
        return refuse();
      }
      keyName = key.name;
      ctx.accept();
    });

    client.on('ready', () => {
      clearTimeout(authTimer);
      let sessions = 0;
      const name = keyName!;
      client.on('session', (accept, reject) => {
        if (sessions >= SSH_DEFAULTS.maxSessionsPerConnection) return reject();
        sessions++;
        const session = accept();
        session.once('close', () => sessions--);
        this.#onSession(session, name, ip, client);
      });
      // Port forwarding, both directions, and Unix-socket forwarding: refused.
      client.on('request', (_accept: unknown, reject: (() => void) | undefined, requestName: string) => {
        this.#options.log(`ssh: refused ${requestName} for key ${name} from ${ip}`);
        reject?.();
      });
      client.on('tcpip', (_accept: unknown, reject: () => void, info: { destIP: string; destPort: number }) => {
        this.#options.log(`ssh: refused direct-tcpip to ${info.destIP}:${info.destPort} for key ${name} from ${ip}`);
        reject();
      });
      client.on('openssh.streamlocal', (_accept: unknown, reject: () => void) => {
        this.#options.log(`ssh: refused a Unix socket forward for key ${name} from ${ip}`);
        reject();
      });
    });
  }

  #onSession(session: Session, keyName: string, ip: string, connection: Connection): void {
    const env: Record<string, string> = {};
    let started = false;
    /** The pseudo-terminal the client asked for (ssh -t): a run gets one of its size and TERM. */
    let terminal: RunRequest['terminal'] = null;
    let run: OneOffRun | null = null;
    const refuseWith = (channel: ServerChannel | undefined, message: string) => {
      if (channel === undefined) return;
      channel.stderr.write(`berth: ${message}\n`);
      channel.exit(1);
      channel.end();
    };
    session.on('pty', (accept: (() => void) | undefined, reject: (() => void) | undefined, info: { rows: number; cols: number; term: string }) => {
      if (this.#options.runs === undefined || this.#options.runs === null || started) return reject?.();
      terminal = { size: terminalSize(info.rows, info.cols), type: terminalType(info.term) };
      accept?.();
    });
    session.on('x11', (_accept: unknown, reject?: () => void) => reject?.());
    session.on('auth-agent', (_accept: unknown, reject?: () => void) => reject?.());
    session.on('window-change', (_accept: unknown, reject?: () => void) => reject?.());
    session.on('signal', (accept: (() => void) | undefined, reject: (() => void) | undefined, info: { name: string }) => {
      const signal = runSignal(info.name);
      if (run === null || signal === null) return reject?.();
      run.signal(signal);
      accept?.();
    });
    session.on('env', (accept: (() => void) | undefined, reject: (() => void) | undefined, info: { key: string; val: string }) => {
      if (info.key === 'GIT_PROTOCOL' && GIT_PROTOCOL.test(info.val)) {
        env.GIT_PROTOCOL = info.val;
        return accept?.();
      }
      reject?.();
    });
    session.on('shell', (accept: () => ServerChannel) => {
      this.#options.log(`ssh: refused a shell for key ${keyName} from ${ip}`);
      const served = this.#options.runs ? `git (git push, git fetch) and one-off runs: ssh -t HOST run APP -- bash` : 'git only (git push, git fetch)';
      refuseWith(accept(), `hi ${keyName}: you are authenticated, but berth gives no shell access; it serves ${served}`);
    });
    session.on('subsystem', (accept: () => ServerChannel, _reject: unknown, info: { name: string }) => {
      this.#options.log(`ssh: refused the ${info.name} subsystem for key ${keyName} from ${ip}`);
      refuseWith(accept(), `the ${JSON.stringify(info.name)} subsystem is not available; berth serves git only (no sftp or scp)`);
    });
    session.on('exec', (accept: () => ServerChannel, _reject: unknown, info: { command: string }) => {
      if (started) return;
      started = true;
      if (this.#options.runs && isRunCommand(info.command)) {
        this.#running++;
        void this.#run(accept(), connection, info.command, keyName, ip, terminal, (running) => (run = running)).finally(() => this.#running--);
        return;
      }
      let request: ReturnType<typeof parseSshCommand>;
      try {
        request = parseSshCommand(info.command);
      } catch (err) {
        this.#options.log(`ssh: refused a bad repository for key ${keyName} from ${ip}`);
        return refuseWith(accept(), isBerthError(err) ? `${err.message} [${err.code}]` : 'refused');
      }
      if (request === null) {
        const word = info.command.trim().split(/\s+/)[0] ?? '';
        this.#options.log(`ssh: refused the command ${JSON.stringify(word.slice(0, 40))} for key ${keyName} from ${ip}`);
        const served = this.#options.runs ? 'git (git-receive-pack, git-upload-pack) and one-off runs (run APP -- COMMAND)' : 'git only (git-receive-pack and git-upload-pack)';
        return refuseWith(accept(), `berth serves ${served}; ${JSON.stringify(word.slice(0, 40))} is not available (no shell commands, scp or sftp)`);
      }
      this.#running++;
      void this.#runGit(accept(), request.service, request.app, keyName, env)
        .catch((err: unknown) => {
          if (!isBerthError(err)) this.#options.log(`ssh: git ${request.service} for ${request.app} failed: ${(err as Error).stack ?? String(err)}`);
        })
        .finally(() => this.#running--);
    });
  }

  /** `run APP [--size SIZE] -- COMMAND…`: a one-off run joined to the channel (a pty's when the client asked for one). */
  async #run(channel: ServerChannel, connection: Connection, command: string, keyName: string, ip: string, terminal: RunRequest['terminal'], started: (run: OneOffRun) => void): Promise<void> {
    const fail = (message: string) => {
      channel.stderr.write(`berth: ${message}\n`);
      channel.exit(1);
      channel.end();
    };
    // A connection that drops (the client killed) closes no channel by itself: both count.
    let closed = false;
    const onClosed = () => (closed = true);
    channel.once('close', onClosed);
    connection.once('close', onClosed);
    let run: OneOffRun;
    try {
      const asked = parseRunCommand(command);
      run = await this.#options.runs!.startRun(asked.app, { argv: asked.argv, memoryBytes: asked.memoryBytes, terminal, detach: false, actor: this.#options.actorOf(keyName) });
    } catch (err) {
      if (!isBerthError(err)) this.#options.log(`ssh: a run for key ${keyName} from ${ip} failed: ${(err as Error).stack ?? String(err)}`);
      return fail(isBerthError(err) ? `${err.message} [${err.code}]${err.hint ? `\nhint: ${err.hint}` : ''}` : 'internal error; the daemon log has the details');
    }
    started(run);
    if (closed) run.abandon();
    await serveRun(run, {
      input: channel,
      stdout: channel,
      stderr: channel.stderr,
      exit: (status) => {
        if (closed) return;
        try {
          channel.exit(status);
          channel.end();
        } catch {
          // the client went away meanwhile
        }
      },
      onClose: (listener) => {
        channel.once('close', listener);
        connection.once('close', listener);
      },
    });
    channel.off('close', onClosed);
    connection.off('close', onClosed);
  }

  async #runGit(channel: ServerChannel, service: ServiceName, app: string, keyName: string, env: Readonly<Record<string, string>>): Promise<void> {
    // A push may wait for the app's previous one; the client may leave meanwhile.
    let gone = false;
    channel.once('close', () => (gone = true));
    let child: ChildProcess;
    try {
      child = await this.#options.git.open(service, app, this.#options.actorOf(keyName), { stateless: false, advertise: false }, env);
    } catch (err) {
      channel.stderr.write(`berth: ${isBerthError(err) ? `${err.message} [${err.code}]` : 'internal error; the daemon log has the details'}\n`);
      channel.exit(1);
      channel.end();
      throw err;
    }
    channel.pipe(child.stdin!);
    child.stdin!.on('error', () => {});
    child.stdout!.pipe(channel, { end: false });
    child.stderr!.pipe(channel.stderr, { end: false });
    // The client went away: the git process goes too (a deploy already handed to the platform finishes there).
    const onGone = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    channel.once('close', onGone);
    if (gone) onGone();
    const [code] = await new Promise<[number | null]>((resolve) => {
      child.once('error', () => resolve([null]));
      child.once('close', (exitCode: number | null) => resolve([exitCode]));
    });
    channel.off('close', onGone);
    channel.exit(code ?? 1);
    channel.end();
  }

  listen(host: string | undefined, port: number): Promise<AddressInfo> {
    return listenOn(this.#tcp, host, port, 'for SSH');
  }

  /**
   * Stops accepting; a push in progress gets `graceMs` to finish, then every
   * connection is cut. Idle connections (a client that keeps its connection
   * open between commands) are cut at once: they must not hold up the
   * daemon's stop, whose next step stops the apps.
   */
  async close(graceMs = 10_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (this.#running > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
