import type http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import { ByteBudget } from '../../core/byte-budget.js';
import { closesAfterRequest, requestHeadProblem } from './protocol.js';
import type { WebRequest } from './static-files.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
type Answer = (req: http.IncomingMessage, res: http.ServerResponse, status: 400, reason: string) => void;

/** One HTTP/1.x connection: the response being made, the pipelined requests behind it. */
interface Http1Connection {
  active: http.ServerResponse | undefined;
  readonly queue: Array<[http.IncomingMessage, http.ServerResponse]>;
  readonly budget: ByteBudget;
  /** The connection ends after the response in progress (the client said so, or we did). */
  closing: boolean;
  /** A request that could not be parsed arrived behind others: answered with this once they are. */
  pendingError: number | undefined;
  closed: boolean;
}

export interface ConnectionGateOptions {
  /** Pipelined requests that may wait behind the one being answered; past it the connection is closed. */
  maxQueued: number;
  /** Stream buffers one connection may hold (its transfers wait past it). */
  connectionMemoryBytes: number;
  /** A request pipelined past `maxQueued`: the connection is dropped. */
  onOverflow: (socket: Socket) => void;
  /** The error answer of a connection, written once its responses are done. */
  writeError: (socket: Socket, status: number) => void;
}

/**
 * Per-connection order and memory for the web server.
 *
 * HTTP/1.1: requests of one connection are answered one at a time, the next one started when
 * the previous response is finished (taken by the kernel). Node parses every pipelined request
 * it reads and would otherwise run them all at once, each filling buffers for a socket that
 * may never be read; one at a time, a client that does not read stalls its own connection
 * only, and Node stops reading from it (its writable side needs draining). At most `maxQueued`
 * requests wait; a client that pipelines more without reading the answers is dropped.
 *
 * HTTP/2: streams run concurrently (the session advertises how many); their buffers share the
 * session's byte budget.
 */
export class ConnectionGate {
  readonly #http1 = new WeakMap<Socket, Http1Connection>();
  readonly #sessions = new WeakMap<http2.Http2Session, ByteBudget>();

  constructor(
    readonly options: ConnectionGateOptions,
    readonly handler: Handler,
    readonly answer: Answer,
  ) {}

  /** The `request` listener. */
  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.httpVersionMajor === 2) {
      this.handler(req, res);
      return;
    }
    const socket = req.socket;
    const connection = this.#connection(socket);
    if (connection.closed) return;
    if (connection.active === undefined) {
      this.#start(connection, socket, req, res);
      return;
    }
    if (connection.queue.length >= this.options.maxQueued) {
      connection.queue.length = 0;
      this.options.onOverflow(socket);
      socket.destroy();
      return;
    }
    connection.queue.push([req, res]);
  };

  /** The byte budget of the connection (HTTP/1) or session (HTTP/2) a request came on. */
  budgetFor(req: WebRequest): ByteBudget | undefined {
    const stream = (req as Partial<http2.Http2ServerRequest>).stream;
    if (stream !== undefined) {
      const session = stream.session;
      if (session === undefined) return undefined;
      let budget = this.#sessions.get(session);
      if (budget === undefined) {
        budget = new ByteBudget(this.options.connectionMemoryBytes);
        this.#sessions.set(session, budget);
      }
      return budget;
    }
    const socket = (req as Partial<http.IncomingMessage>).socket;
    return socket ? this.#http1.get(socket)?.budget : undefined;
  }

  /**
   * A parse error on a connection. Returns false when nothing is in progress there (the caller
   * answers at once); true when a response is: the error answer (if any is still due) then
   * follows it instead of cutting into it.
   */
  deferError(socket: Socket, status: number): boolean {
    const connection = this.#http1.get(socket);
    if (connection === undefined || connection.closed) return false;
    if (connection.active === undefined && connection.queue.length === 0) {
      // Bytes after the last answer of a connection that is closing (or has its error answer): ignored.
      return connection.closing;
    }
    // Stop reading the rest; the answers in progress go out first.
    socket.pause();
    if (!connection.closing) connection.pendingError ??= status;
    return true;
  }

  #connection(socket: Socket): Http1Connection {
    let connection = this.#http1.get(socket);
    if (connection === undefined) {
      const created: Http1Connection = { active: undefined, queue: [], budget: new ByteBudget(this.options.connectionMemoryBytes), closing: false, pendingError: undefined, closed: false };
      socket.once('close', () => {
        created.closed = true;
        created.queue.length = 0;
      });
      this.#http1.set(socket, created);
      connection = created;
    }
    return connection;
  }

  #start(connection: Http1Connection, socket: Socket, req: http.IncomingMessage, res: http.ServerResponse): void {
    connection.active = res;
    const next = () => {
      if (connection.active !== res) return;
      res.off('finish', next);
      res.off('close', next);
      connection.active = undefined;
      const queued = connection.queue.shift();
      if (queued !== undefined && !connection.closed && !socket.destroyed) this.#start(connection, socket, queued[0], queued[1]);
      else if (connection.pendingError !== undefined && !connection.closed) {
        connection.closing = true;
        this.options.writeError(socket, connection.pendingError);
      }
    };
    res.once('finish', next);
    res.once('close', next);
    if (closesAfterRequest(req.httpVersion, req.headers.connection)) connection.closing = true;
    const problem = requestHeadProblem(req.httpVersion, req.rawHeaders);
    if (problem !== undefined) {
      connection.closing = true;
      connection.queue.length = 0;
      res.setHeader('Connection', 'close');
      this.answer(req, res, 400, problem);
      return;
    }
    this.handler(req, res);
  }
}
