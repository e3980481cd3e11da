import { BerthError } from '../../errors.ts';
import { escapeControls } from '../../terminal-text.ts';
import { ApiClient } from './client.ts';
import { resolveCredentials, type Env } from './credentials.ts';

/** Where the remote commands write (every call ends with "\n"). */
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
  /** All of standard input, for secrets that must not be in argv (`--stdin`). Default: process.stdin. */
  readonly readStdin?: () => Promise<string>;
}

/** What every remote command is given: where to write, the environment, and how to reach the daemon. */
export interface RemoteContext {
  readonly io: RemoteIo;
  readonly env: Env;
  readonly onInterrupt: (stop: () => void) => () => void;
  readonly readStdin: () => Promise<string>;
  /** A client for the chosen server (--server, BERTH_SERVER, or the current saved one) with its token; BERTH_E_NOT_LOGGED_IN otherwise. */
  client(): ApiClient;
  /** The command's --server (a saved server's name or a URL), set before its action runs. */
  selectServer(selector: string | undefined): void;
}

function onSigint(stop: () => void): () => void {
  const handler = () => stop();
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

/** Standard input as text, refused beyond 1 MiB (config and tokens are far smaller). */
async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > STDIN_LIMIT) throw new BerthError('BERTH_E_USAGE', 'standard input is larger than 1 MiB', { hint: 'Pipe in KEY=VALUE lines or a token, not a whole file tree.' });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const STDIN_LIMIT = 1024 * 1024;

/**
 * Everything a remote command prints passes through escapeControls (lines
 * kept): whatever a command forgot to escape — an app's log line, a build's
 * output, a description, an error from the server — cannot drive the
 * operator's terminal. Values shown on one line are escaped by `cell` too.
 */
function safeIo(io: RemoteIo): RemoteIo {
  return {
    out: (text) => io.out(escapeControls(text, { keepNewlines: true })),
    err: (text) => io.err(escapeControls(text, { keepNewlines: true })),
  };
}

export function remoteContext(io: RemoteIo, options: RemoteOptions): RemoteContext {
  const env = options.env ?? process.env;
  let selected: string | undefined;
  return {
    io: safeIo(io),
    env,
    onInterrupt: options.onInterrupt ?? onSigint,
    readStdin: options.readStdin ?? readProcessStdin,
    client: () => new ApiClient(resolveCredentials(env, selected)),
    selectServer: (selector) => {
      selected = selector;
    },
  };
}
