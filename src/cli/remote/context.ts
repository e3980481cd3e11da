import { ApiClient } from './client.ts';
import { resolveCredentials, type Env } from './credentials.ts';

/** Where the remote commands write: text exactly as given (every call ends with "\n"). */
export interface RemoteIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface RemoteOptions {
  /** BERTH_SERVER, BERTH_TOKEN, XDG_CONFIG_HOME, HOME; read when a command runs. Default: process.env. */
  readonly env?: Env;
  /**
   * Calls `stop` when the user presses Ctrl-C during a command that streams
   * until told to stop (`berth logs -f`); returns a function that stops
   * listening. Default: SIGINT.
   */
  readonly onInterrupt?: (stop: () => void) => () => void;
}

/** What every remote command is given: where to write, the environment, and how to reach the daemon. */
export interface RemoteContext {
  readonly io: RemoteIo;
  readonly env: Env;
  readonly onInterrupt: (stop: () => void) => () => void;
  /** A client for the server in BERTH_SERVER/BERTH_TOKEN or the saved credentials; BERTH_E_NOT_LOGGED_IN otherwise. */
  client(): ApiClient;
}

function onSigint(stop: () => void): () => void {
  const handler = () => stop();
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

export function remoteContext(io: RemoteIo, options: RemoteOptions): RemoteContext {
  const env = options.env ?? process.env;
  return {
    io,
    env,
    onInterrupt: options.onInterrupt ?? onSigint,
    client: () => new ApiClient(resolveCredentials(env)),
  };
}
