import type { TLSSocket } from 'node:tls';
import type { EdgeConnection, EngineContext } from './connection.ts';

/** One HTTP/2 client connection (TLS, ALPN "h2"). Placeholder: refuses until HTTP/2 lands. */
export class Http2Connection implements EdgeConnection {
  readonly #socket: TLSSocket;
  readonly #ctx: EngineContext;
  deadline = 0;

  constructor(socket: TLSSocket, ctx: EngineContext, _now: number) {
    this.#socket = socket;
    this.#ctx = ctx;
    socket.on('close', () => this.#ctx.forget(this));
    socket.destroy();
  }

  expire(): void {
    this.destroy();
  }

  shutdown(): void {
    this.destroy();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
