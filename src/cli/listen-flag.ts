import { BerthError } from '../errors.ts';
import { ListenError } from '../listen.ts';

/**
 * The flags of the command that was run which say where its listeners go:
 * `plain` for the one asked for (`--listen` for `berth up`, `--from` for
 * `reverse-proxy`, `--http` for `server`, `--api`, …), `secure` for an
 * HTTPS listener opened in the same call.
 */
export interface ListenFlags {
  readonly plain: string;
  readonly secure?: string;
}

/**
 * Runs `listen`; a port that is taken rejects with the hint naming the flag
 * that moves it. The listeners themselves cannot say it: the same edge
 * listens for `up --listen`, `reverse-proxy --from` and `server --http`.
 */
export async function listenNamingFlag<T>(flags: ListenFlags, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    if (!(err instanceof ListenError) || err.reason !== 'EADDRINUSE') throw err;
    const flag = err.secure ? (flags.secure ?? '--https') : flags.plain;
    throw new BerthError('BERTH_E_LISTEN', err.message, { hint: `Another program uses that port; pick another with ${flag}.`, cause: err });
  }
}
