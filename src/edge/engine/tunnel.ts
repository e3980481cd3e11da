import type { Socket } from 'node:net';
import { forwardableHeaders, type ResponseHead } from '../http1/index.ts';
import type { ConnectionUser, UpstreamTunnel } from './exchange.ts';
import { FrameBoundaries, GOING_AWAY_FRAME } from './websocket-frames.ts';

/** The head an app receives for an upgrade request: the forwarded head plus the hop-by-hop Connection/Upgrade it asks with. */
export function withUpgrade(upstreamHead: string, protocols: string): string {
  return `${upstreamHead.slice(0, -2)}connection: upgrade\r\nupgrade: ${protocols}\r\n\r\n`;
}

/** The 101 the client receives: the app's fields minus hop-by-hop ones, and the protocol it switched to. */
export function switchingHead(response: ResponseHead, extraFields: string): string {
  const fields = forwardableHeaders(response.headers, response.connectionTokens);
  let text = `HTTP/1.1 101 ${response.reason}\r\n`;
  for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return `${text}${extraFields}connection: upgrade\r\nupgrade: ${response.upgrade}\r\n\r\n`;
}

/**
 * A client joined to an app after a 101 (WebSocket): bytes flow both ways
 * with backpressure, a half-close is passed on, and either side closing
 * closes both. The client connection owns the client socket's listeners
 * and hands its events here; the upstream connection's events come as its
 * `ConnectionUser`. A tunnel has no deadline of its own.
 */
export class Tunnel implements ConnectionUser {
  readonly #client: Socket;
  readonly #upstream: UpstreamTunnel;
  #clientWaits = false;
  #upstreamWaits = false;
  /** Where the app's WebSocket frames end, for a close frame put between two; null for another protocol. */
  readonly #frames: FrameBoundaries | null;
  #goingAway = false;
  #finished = false;

  /**
   * `head` is the 101 for the client, `rest` the app's first bytes after
   * it, `early` the client's bytes sent before the 101; `protocol` the one
   * switched to ("websocket").
   */
  constructor(client: Socket, upstream: UpstreamTunnel, head: string, rest: Buffer | null, early: Buffer | null, protocol: string | null = null) {
    this.#client = client;
    this.#upstream = upstream;
    this.#frames = protocol !== null && protocol.trim().toLowerCase() === 'websocket' ? new FrameBoundaries() : null;
    upstream.tunnel(this);
    client.write(head, 'latin1');
    if (rest !== null) this.onData(rest);
    if (early !== null) this.fromClient(early);
  }

  // The client's side.

  fromClient(chunk: Buffer): void {
    const upstream = this.#upstream.socket;
    if (upstream.write(chunk) || this.#upstreamWaits) return;
    this.#upstreamWaits = true;
    this.#client.pause();
    upstream.once('drain', () => {
      this.#upstreamWaits = false;
      this.#client.resume();
    });
  }

  clientEnded(): void {
    this.#upstream.socket.end();
  }

  clientClosed(): void {
    this.#upstream.socket.destroy();
  }

  // The app's side (ConnectionUser).

  onConnect(): void {}

  onTimeout(): void {
    this.#upstream.socket.destroy();
  }

  /**
   * The edge is retiring and the tunnel's time is up: a WebSocket gets a
   * close frame (1001, going away) at the next boundary between the app's
   * frames, and the app's side is closed. False when it cannot (another
   * protocol): the caller cuts it.
   */
  goingAway(): boolean {
    if (this.#frames === null) return false;
    this.#goingAway = true;
    if (this.#frames.atBoundary) this.#finish();
    return true;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#client.end(GOING_AWAY_FRAME);
    this.#upstream.socket.destroy();
  }

  onData(chunk: Buffer): void {
    if (this.#finished) return;
    if (this.#frames !== null) {
      if (this.#goingAway) {
        const upTo = this.#frames.consume(chunk, true);
        this.#client.write(Buffer.from(chunk.subarray(0, upTo)));
        if (this.#frames.atBoundary) this.#finish();
        return;
      }
      this.#frames.consume(chunk);
    }
    // `chunk` may live in the upstream read buffer: copied.
    if (this.#client.write(Buffer.from(chunk)) || this.#clientWaits) return;
    this.#clientWaits = true;
    this.#upstream.pause();
    this.#client.once('drain', () => {
      this.#clientWaits = false;
      this.#upstream.resume();
    });
  }

  onEnd(): void {
    if (!this.#finished) this.#client.end();
  }

  onClose(): void {
    // Once the close frame is on its way, the client's socket ends by itself.
    if (!this.#finished) this.#client.destroy();
  }
}
