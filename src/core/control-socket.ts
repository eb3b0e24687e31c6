import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ConsoleAnswer } from './console-commands.js';
import { WharfError, codeForErrno } from './errors.js';
import type { Logger } from './logger.js';

/**
 * The server's control socket: a Unix socket in the data folder through which `wharf status` and
 * `wharf stop` type the console's commands from another terminal. One JSON line asks
 * (`{"line":"status"}`), one JSON line answers (`{"ok":true,"text":"...","data":{...}}`), then the
 * server closes the connection.
 *
 * Who may ask is the file's mode: 0600, so only the user running the server (and root) can
 * connect. It is created under a umask that gives nobody else any right, so there is no moment
 * when it is open to others. The file also says a server runs on this data folder: a second
 * server finds it answering and refuses to start; a file left by a crashed server answers
 * nothing and is replaced.
 */
export const CONTROL_SOCKET_FILE = 'wharf.sock';
/** Longest request line; a command is a few words. */
export const MAX_CONTROL_REQUEST_BYTES = 16 * 1024;
/** Longest answer a client reads (a status with a long member list stays far below). */
const MAX_CONTROL_ANSWER_BYTES = 4 * 1024 * 1024;
/** A connection that has not sent its line by then is closed. */
const REQUEST_TIMEOUT_MS = 5_000;
/** sun_path holds 108 bytes on Linux (104 on macOS and the BSDs), the final NUL included. */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET_FILE);
}

export interface ControlSocket {
  readonly path: string;
  /** Stop answering and remove the file. */
  close(): Promise<void>;
}

export interface ControlSocketOptions {
  dataDir: string;
  /** Answers one line as the console would (undefined: an empty line). */
  answer(line: string): Promise<ConsoleAnswer | undefined>;
  logger: Logger;
}

/**
 * Listen on `<dataDir>/wharf.sock`. Fails with one sentence when another server answers there;
 * resolves with undefined (and a warning) when the path is too long for a Unix socket, since a
 * server without `wharf status` is better than no server.
 */
export async function openControlSocket(options: ControlSocketOptions): Promise<ControlSocket | undefined> {
  const { dataDir, logger } = options;
  const path = controlSocketPath(dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    logger.warn(`no control socket: ${path} is longer than a Unix socket path may be (${MAX_SOCKET_PATH_BYTES} bytes); \`wharf status\` and \`wharf stop\` will not find this server`);
    return undefined;
  }
  await removeStaleSocket(path, dataDir);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    answerOneLine(socket, options);
  });
  await listenPrivately(server, path, dataDir);
  return {
    path,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      // server.close() unlinks the path itself; a file someone put there since is not ours to remove.
    },
  };
}

/** A leftover file from a server that crashed is removed; a live server's is a refusal. */
async function removeStaleSocket(path: string, dataDir: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!isSocket) throw new WharfError('ETAKEN', `${path} is in the way of the control socket and is not a socket: move it elsewhere`);
  const state = await probe(path);
  if (state === 'live') throw anotherServer(dataDir);
  if (state === 'forbidden') throw new WharfError('EDENIED', `the control socket ${path} belongs to another user: another wharf server seems to run on the data folder ${dataDir}`);
  try {
    unlinkSync(path);
  } catch (error) {
    // A sticky shared folder (/tmp) where another user left it.
    throw new WharfError('EDENIED', `cannot remove the stale control socket ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function anotherServer(dataDir: string): WharfError {
  return new WharfError('EINUSE', `another wharf server is running on the data folder ${dataDir}: stop it first (\`wharf stop --data ${dataDir}\`) or choose another --data`);
}

function probe(path: string): Promise<'live' | 'stale' | 'forbidden'> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EACCES' ? 'forbidden' : 'stale'));
  });
}

/** Bind with umask 077 so the socket is never open to others, then make sure of 0600. */
async function listenPrivately(server: Server, path: string, dataDir: string): Promise<void> {
  const listening = new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // The bind of a Unix socket happens inside listen(), synchronously: the umask is back at once.
  const previous = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(previous);
  }
  try {
    await listening;
  } catch (error) {
    // Two servers started at once: the other bound first.
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw anotherServer(dataDir);
    throw error;
  }
  chmodSync(path, 0o600);
}

function answerOneLine(socket: Socket, options: ControlSocketOptions): void {
  let buffered = '';
  let answered = false;
  socket.setEncoding('utf8');
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', (error) => options.logger.debug({ err: error }, 'control socket client went away'));
  const reply = (answer: ConsoleAnswer) => {
    answered = true;
    socket.end(`${JSON.stringify(answer)}\n`);
  };
  socket.on('data', (chunk: string) => {
    if (answered) return;
    buffered += chunk;
    const newline = buffered.indexOf('\n');
    if (newline < 0) {
      if (Buffer.byteLength(buffered) > MAX_CONTROL_REQUEST_BYTES) reply({ ok: false, text: `request longer than ${MAX_CONTROL_REQUEST_BYTES} bytes` });
      return;
    }
    const line = requestLine(buffered.slice(0, newline));
    if (line === undefined) return reply({ ok: false, text: 'expected one JSON line: {"line":"status"}' });
    answered = true;
    options.answer(line).then(
      (answer) => reply(answer ?? { ok: false, text: 'empty command; try help' }),
      (error: unknown) => {
        options.logger.error({ err: error }, 'control socket command failed');
        reply({ ok: false, text: 'the command failed; see the server log' });
      },
    );
  });
}

function requestLine(json: string): string | undefined {
  try {
    const request: unknown = JSON.parse(json);
    const line = (request as { line?: unknown } | null)?.line;
    return typeof line === 'string' ? line : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ask the server on `dataDir` to run one console line; resolves with its answer. No server there
 * is a WharfError naming the data folder.
 */
export function askControlSocket(dataDir: string, line: string, timeoutMs = 10_000): Promise<ConsoleAnswer> {
  const path = controlSocketPath(dataDir);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let received = '';
    const fail = (error: WharfError) => {
      socket.destroy();
      reject(error);
    };
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => fail(new WharfError('EDEADLINE', `the wharf server on the data folder ${dataDir} did not answer within ${timeoutMs / 1000} s`)));
    socket.on('connect', () => socket.write(`${JSON.stringify({ line })}\n`));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length > MAX_CONTROL_ANSWER_BYTES) fail(new WharfError('EPROTOCOL', `the answer from ${path} is longer than ${MAX_CONTROL_ANSWER_BYTES} bytes`));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') fail(new WharfError('ENOSERVER', `no wharf server is running on the data folder ${dataDir}`));
      else if (error.code === 'EACCES') fail(new WharfError('EDENIED', `the control socket ${path} belongs to another user`));
      else fail(new WharfError(codeForErrno(error.code), `cannot reach the wharf server on the data folder ${dataDir}: ${error.message}`));
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(received) as ConsoleAnswer);
      } catch {
        reject(new WharfError('EPROTOCOL', `the answer from ${path} is not JSON`));
      }
    });
  });
}
