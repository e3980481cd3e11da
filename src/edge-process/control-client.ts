// The daemon's end of the control socket: requests answered by id, events
// passed on, and the end of the connection reported once.
import { connect, type Socket } from 'node:net';
import { BerthError, type ErrorCode } from '../errors.ts';
import { ListenError } from '../listen.ts';
import { LineDecoder, asReply, encodeLine, type EdgeEvent, type Request } from './protocol.ts';

type Outgoing = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** The control connection to an edge process ended before it answered. */
export class ControlClosed extends Error {
  constructor() {
    super('the edge process closed its control connection');
  }
}

export class ControlClient {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #replaced = false;
  onEvent: (event: EdgeEvent) => void = () => {};
  onClose: () => void = () => {};

  private constructor(socket: Socket) {
    this.#socket = socket;
    const decoder = new LineDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const decoded of decoder.push(chunk)) {
        const reply = decoded.ok ? asReply(decoded.value) : null;
        if (reply === null) {
          if (decoder.broken) socket.destroy();
          continue;
        }
        if ('event' in reply) {
          if (reply.event === 'replaced') this.#replaced = true;
          else this.onEvent(reply);
          continue;
        }
        const pending = this.#pending.get(reply.id);
        if (pending === undefined) continue;
        this.#pending.delete(reply.id);
        clearTimeout(pending.timer);
        if (reply.ok) pending.resolve(reply.result);
        else if (reply.listen !== undefined) pending.reject(new ListenError(reply.listen.host, reply.listen.port, reply.listen.reason, { secure: reply.listen.secure }));
        else pending.reject(new BerthError((reply.code.startsWith('BERTH_E_') ? reply.code : 'BERTH_E_EDGE_PROCESS') as ErrorCode, reply.message, reply.hint === undefined ? {} : { hint: reply.hint }));
      }
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.#closed = true;
      for (const pending of this.#pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(new ControlClosed());
      }
      this.#pending.clear();
      this.onClose();
    });
  }

  /** Connects to an edge's socket; null when nothing listens there. */
  static connect(path: string, timeoutMs = 2_000): Promise<ControlClient | null> {
    return new Promise((resolve) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(null);
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket));
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
  }

  /** The edge took another control client in place of this one. */
  get replaced(): boolean {
    return this.#replaced;
  }

  get closed(): boolean {
    return this.#closed;
  }

  call<T>(request: Outgoing, timeoutMs = 30_000): Promise<T> {
    if (this.#closed) return Promise.reject(new ControlClosed());
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new BerthError('BERTH_E_EDGE_PROCESS', `the edge process did not answer ${request.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.#socket.write(encodeLine({ ...request, id } as Request));
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}
