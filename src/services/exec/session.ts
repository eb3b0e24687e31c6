import type { Socket } from 'node:net';
import { CodecError, LengthPrefixDecoder, LengthPrefixEncoder } from '../../codec/index.js';
import type { Logger } from '../../core/logger.js';
import { loginFailureLine, type Account, type Accounts } from '../../store/index.js';
import type { AuditTrail } from './audit.js';
import {
  FRAME_STDERR,
  FRAME_STDOUT,
  MAX_REQUEST_FRAME_BYTES,
  MAX_SEED_LINE_BYTES,
  SEED_ERROR,
  bindArguments,
  controlBody,
  mayRun,
  parseClientMessage,
  seedReady,
  splitSeedLine,
  usageOf,
  type ClientMessage,
  type CompiledCommand,
  type ErrorCode,
  type ExitStatus,
  type ServerMessage,
} from './protocol.js';
import type { Run, RunLimits } from './runner.js';

/** What both protocols need from the server: the commands, the slots, starting and auditing runs. */
export interface ExecHost {
  readonly commands: ReadonlyMap<string, CompiledCommand>;
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly accounts: Accounts | undefined;
  readonly audit: AuditTrail | undefined;
  readonly logger: Logger;
  readonly limits: RunLimits;
  /** Take a run slot for this account (null: the seed protocol); false when a limit is reached. */
  acquire(account: string | null): boolean;
  release(account: string | null): void;
  start(argv: readonly string[], handlers: { onStdout(chunk: Buffer): void; onStderr(chunk: Buffer): void; onExit(status: ExitStatus): void }): Run;
}

const encoder = new LengthPrefixEncoder({ lengthBytes: 4, maxFrameBytes: 0xffffffff });

function peerAddress(socket: Socket): string {
  const ip = socket.remoteAddress ?? '?';
  return `${ip.startsWith('::ffff:') ? ip.slice(7) : ip}:${socket.remotePort ?? 0}`;
}

/**
 * One connection speaking wharf's framed protocol: log in, then list, run (one at a time),
 * cancel, and for administrators the history. The running command is killed, with its whole
 * process group, when the connection goes.
 */
export class WharfSession {
  readonly #socket: Socket;
  readonly #host: ExecHost;
  readonly #address: string;
  readonly #decoder = new LengthPrefixDecoder({ lengthBytes: 4, maxFrameBytes: MAX_REQUEST_FRAME_BYTES });
  #account: Account | undefined;
  #run: Run | undefined;
  #loggingIn = false;
  /** The peer broke the framing or the protocol: read nothing more from it. */
  #failed = false;

  constructor(socket: Socket, host: ExecHost, onLogin: () => void) {
    this.#socket = socket;
    this.#host = host;
    this.#address = peerAddress(socket);
    this.#onLogin = onLogin;
    socket.on('close', () => this.#run?.stop('disconnected'));
  }

  readonly #onLogin: () => void;

  get running(): boolean {
    return this.#run !== undefined;
  }

  /** The server stops: kill the command; its exit frame goes out, then the connection ends. */
  shutdown(): void {
    if (this.#run) this.#run.stop('server-stopping');
    else this.#socket.end();
  }

  push(chunk: Buffer): void {
    if (this.#failed) return;
    try {
      this.#decoder.push(chunk, (frame) => this.#frame(frame));
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.#fail('bad-request', error.message);
    }
  }

  #send(message: ServerMessage): void {
    if (!this.#socket.destroyed) this.#socket.write(encoder.encode(controlBody(message)));
  }

  #output(kind: number, chunk: Buffer): void {
    if (this.#socket.destroyed) return;
    const ok = this.#socket.write(Buffer.concat([encoder.encodeHeader(chunk.length + 1), Buffer.from([kind]), chunk]));
    const run = this.#run;
    if (!ok && run) {
      // Back-pressure: a slow reader slows the command, it does not fill our memory.
      run.pause();
      this.#socket.once('drain', () => run.resume());
    }
  }

  #fail(code: ErrorCode, message: string): void {
    this.#send({ t: 'error', code, message });
    this.#failed = true;
    this.#socket.end();
  }

  #frame(frame: Buffer): void {
    const message = parseClientMessage(frame);
    if ('error' in message) return this.#fail('bad-request', message.error);
    void this.#handle(message).catch((error: unknown) => {
      this.#host.logger.error({ err: error }, `exec: ${this.#address}: ${message.t} failed`);
      this.#fail('bad-request', 'the server could not do that');
    });
  }

  async #handle(message: ClientMessage): Promise<void> {
    if (message.t === 'login') return this.#login(message.user, message.password);
    const account = this.#account;
    if (account === undefined) return this.#send({ t: 'error', code: 'login-required', message: 'log in first' });
    switch (message.t) {
      case 'list': {
        const commands = [...this.#host.commands.values()].filter((c) => mayRun(c, account, this.#host.groups));
        return this.#send({ t: 'commands', commands: commands.map((c) => ({ name: c.name, usage: usageOf(c), description: c.description })) });
      }
      case 'cancel':
        this.#run?.stop('cancelled');
        return;
      case 'history':
        if (account.role !== 'admin' || this.#host.audit === undefined) return this.#send({ t: 'error', code: 'not-allowed', message: 'the history is for administrators' });
        return this.#send({ t: 'history', rows: await this.#host.audit.recent(message.limit) });
      case 'run':
        return this.#start(account, message.command, message.args);
    }
  }

  async #login(user: string, password: string): Promise<void> {
    const accounts = this.#host.accounts;
    if (this.#account !== undefined || this.#loggingIn) return this.#send({ t: 'error', code: 'bad-request', message: 'already logged in' });
    if (accounts === undefined) return this.#fail('login-failed', 'this server has no accounts');
    this.#loggingIn = true;
    const ip = this.#socket.remoteAddress ?? '';
    const result = await accounts.verify(user, password, ip);
    this.#loggingIn = false;
    if (!result.ok) {
      this.#host.logger.warn(loginFailureLine(user, ip, result));
      // The store's delay slows a guesser down; the connection stays for another try.
      if (result.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, result.delayMs));
      const why = result.reason === 'throttled' ? 'too many failed logins; try again later' : result.reason === 'disabled' ? 'the account is disabled' : 'wrong name or password';
      return this.#send({ t: 'error', code: 'login-failed', message: why });
    }
    this.#account = result.account;
    this.#onLogin();
    this.#send({ t: 'ok', account: result.account.name });
  }

  #start(account: Account, name: string, args: string[]): void {
    const host = this.#host;
    if (this.#run) return this.#send({ t: 'error', code: 'busy', message: 'a command is already running on this connection' });
    const command = host.commands.get(name);
    // The same answer for "no such command" and "not yours": the list is what this account may run.
    if (command === undefined || !mayRun(command, account, host.groups)) {
      host.logger.warn(`exec: ${account.name} ${this.#address} refused: ${name.slice(0, 64)} is not a command this account may run`);
      return this.#send({ t: 'error', code: command === undefined ? 'no-such-command' : 'not-allowed', message: `no command ${name.slice(0, 64)} for ${account.name} (see --list)` });
    }
    const bound = bindArguments(command, args);
    if (!bound.ok) return this.#send({ t: 'error', code: 'bad-arguments', message: bound.message });
    if (!host.acquire(account.name)) return this.#send({ t: 'error', code: 'busy', message: 'too many commands running; try again later' });
    const startedAt = Date.now();
    this.#send({ t: 'started', command: name });
    this.#run = host.start(bound.argv, {
      onStdout: (chunk) => this.#output(FRAME_STDOUT, chunk),
      onStderr: (chunk) => this.#output(FRAME_STDERR, chunk),
      onExit: (status) => {
        this.#run = undefined;
        host.release(account.name);
        host.audit?.record({ account: account.name, address: this.#address, command: name, args, status }, startedAt);
        this.#send({ t: 'exit', ...status });
        if (status.reason === 'server-stopping') this.#socket.end();
      },
    });
  }
}

type SeedState = { kind: 'command' } | { kind: 'running'; run: Run } | { kind: 'ready'; output: Buffer };

/**
 * One connection speaking the seed's handshake (seed 002 §3): each chunk it sends is a command
 * line, answered `Ready|N`, then after `Start` the N bytes. No login: only commands marked `seed`.
 */
export class SeedSession {
  readonly #socket: Socket;
  readonly #host: ExecHost;
  readonly #address: string;
  #state: SeedState = { kind: 'command' };

  constructor(socket: Socket, host: ExecHost) {
    this.#socket = socket;
    this.#host = host;
    this.#address = peerAddress(socket);
    socket.on('close', () => {
      if (this.#state.kind === 'running') this.#state.run.stop('disconnected');
    });
  }

  get running(): boolean {
    return this.#state.kind === 'running';
  }

  shutdown(): void {
    if (this.#state.kind === 'running') this.#state.run.stop('server-stopping');
    this.#socket.end();
  }

  push(chunk: Buffer): void {
    const state = this.#state;
    if (state.kind === 'running') return;
    if (state.kind === 'ready') {
      this.#state = { kind: 'command' };
      // The seed's server sends the output on `Start` and otherwise waits for the next command.
      if (chunk.toString('utf8').startsWith('Start')) this.#socket.write(state.output);
      return;
    }
    this.#command(chunk);
  }

  #answer(output: Buffer): void {
    const body = output.length > 0 ? output : SEED_ERROR;
    this.#state = { kind: 'ready', output: body };
    this.#socket.write(seedReady(body));
  }

  #command(chunk: Buffer): void {
    const host = this.#host;
    const words = chunk.length > MAX_SEED_LINE_BYTES || chunk.includes(0) ? [] : splitSeedLine(chunk.toString('utf8').trim());
    const [name = '', ...args] = words;
    const command = host.commands.get(name);
    const bound = command?.seed ? bindArguments(command, args) : undefined;
    if (command === undefined || !bound?.ok) {
      host.logger.warn(`exec: (seed protocol) ${this.#address} refused: ${JSON.stringify(chunk.subarray(0, 64).toString('utf8'))} is not an open command`);
      return this.#answer(SEED_ERROR);
    }
    if (!host.acquire(null)) return this.#answer(SEED_ERROR);
    const startedAt = Date.now();
    const parts: Buffer[] = [];
    const run = host.start(bound.argv, {
      onStdout: (out) => parts.push(out),
      // The seed's server reads stdout only; stderr goes to the audit's byte count and no further.
      onStderr: () => {},
      onExit: (status) => {
        host.release(null);
        host.audit?.record({ account: null, address: this.#address, command: name, args, status }, startedAt);
        if (this.#socket.destroyed) return;
        if (status.reason === 'server-stopping') {
          this.#socket.end();
          return;
        }
        this.#answer(Buffer.concat(parts));
      },
    });
    this.#state = { kind: 'running', run };
  }
}
