/**
 * Seed 002's file server: a greeting, then JSON commands with nothing between them: `register`,
 * `check_user` (log in), `put` (the answer is `Start`, or the size already held, which the client
 * seeks to: resume), then the file's bytes. Accounts are the store's (scrypt, throttled, reserved
 * names refused), homes and quotas are the FTP service's. The seed trusts the `file_owner` its
 * client sends; here the login decides whose home a file goes to.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { WharfError } from '../../core/errors.js';
import { accountNameProblem, loginFailureLine } from '../../store/index.js';
import type { Home } from './files.js';
import { describeFailure, openAccountHome, SeedRefusal, SeedUpload, type SeedFilesContext } from './seed-files.js';
import { JsonCommandError, JsonObjectScanner, parseSeed002Command, SEED_002_REPLIES as REPLY, seedFileName, type Seed002Command } from './seed-protocol.js';
import { SerialReader } from './seed-stream.js';

export interface Seed002Context extends SeedFilesContext {
  /** Failed logins on one connection before it is closed. */
  maxLoginFailures: number;
  /** Unknown commands in a row before the connection is closed. */
  maxBadCommands: number;
}

const REFUSAL_REPLY: Record<SeedRefusal['reason'], string> = {
  'bad-name': REPLY.badFile,
  exists: REPLY.badFile,
  missing: REPLY.badFile,
  busy: REPLY.busy,
  quota: REPLY.overQuota,
  'too-large': REPLY.tooLarge,
  io: REPLY.serverError,
};

export class Seed002Session implements StreamHandler {
  readonly #connection: Connection;
  readonly #ctx: Seed002Context;
  readonly #reader: SerialReader;
  readonly #scanner = new JsonObjectScanner();
  #account: string | undefined;
  #home: Home | undefined;
  #upload: { file: SeedUpload; remaining: number } | undefined;
  #loginFailures = 0;
  #badCommands = 0;

  constructor(connection: Connection, ctx: Seed002Context) {
    this.#connection = connection;
    this.#ctx = ctx;
    this.#reader = new SerialReader(connection, (chunk) => this.#handle(chunk), (error) => this.#failed(error));
    connection.write(REPLY.greeting);
  }

  data(chunk: Buffer): void {
    this.#reader.push(chunk);
  }

  close(): void {
    // A client gone mid-upload (once what it sent before closing is written): its bytes stay as
    // the partial the next `put` resumes.
    void this.#reader.drained().then(() => {
      const upload = this.#upload;
      this.#upload = undefined;
      return upload?.file.abandon();
    });
  }

  async #handle(chunk: Buffer): Promise<void> {
    let rest: Buffer = chunk;
    while (rest.length > 0) {
      if (this.#upload) {
        rest = await this.#receive(this.#upload, rest);
        continue;
      }
      const found = this.#scanner.push(rest);
      if (!found) return;
      rest = found.rest;
      await this.#execute(parseSeed002Command(found.object));
    }
  }

  async #receive(upload: { file: SeedUpload; remaining: number }, chunk: Buffer): Promise<Buffer> {
    const take = Math.min(upload.remaining, chunk.length);
    try {
      await upload.file.write(chunk.subarray(0, take));
      upload.remaining -= take;
      if (upload.remaining === 0) await this.#finishUpload(upload.file);
    } catch (error) {
      if (this.#upload === upload) {
        this.#upload = undefined;
        await upload.file.abandon();
      }
      throw error;
    }
    return chunk.subarray(take);
  }

  async #finishUpload(file: SeedUpload): Promise<void> {
    this.#upload = undefined;
    await file.finish();
    this.#log(`stored ${file.name} (${file.position} bytes${file.start > 0 ? `, resumed at ${file.start}` : ''})`);
  }

  async #execute(command: Seed002Command): Promise<void> {
    if (command.cmd === 'bad') throw new JsonCommandError(command.why);
    if (command.cmd === 'unknown') {
      this.#badCommands++;
      if (this.#badCommands >= this.#ctx.maxBadCommands) this.#connection.end(REPLY.invalidCommand);
      else this.#connection.write(REPLY.invalidCommand);
      return;
    }
    this.#badCommands = 0;
    if (command.cmd === 'put') await this.#put(command.filename, command.filesize);
    else if (command.cmd === 'register') await this.#register(command.username, command.password);
    else await this.#login(command.username, command.password);
  }

  async #register(name: string, password: string): Promise<void> {
    const ip = this.#connection.remoteAddress;
    try {
      await this.#ctx.store.accounts.register(name, password, ip);
    } catch (error) {
      if (!(error instanceof WharfError)) throw error;
      const reply =
        error.code === 'ETAKEN'
          ? REPLY.nameTaken
          : error.code === 'EFORBIDDEN'
            ? REPLY.registrationOff
            : error.code === 'ETHROTTLED'
              ? REPLY.tooManyRegistrations
              : error.code === 'EBADVALUE'
                ? `${REPLY.badNameOrPassword}: ${error.message}`
                : undefined;
      if (reply === undefined) throw error;
      this.#log(`registration of ${JSON.stringify(name.slice(0, 64))} refused: ${error.message}`);
      this.#connection.write(reply);
      return;
    }
    this.#connection.write(REPLY.registered);
  }

  async #login(name: string, password: string): Promise<void> {
    const ip = this.#connection.remoteAddress;
    // A name that can never be an account: "no such user" tells nothing about who has one.
    if (accountNameProblem(name) !== undefined) {
      this.#connection.write(REPLY.noSuchUser);
      return;
    }
    const result = await this.#ctx.store.accounts.verify(name, password, ip);
    if (this.#connection.closed) return;
    if (result.ok) {
      const home = await openAccountHome(this.#ctx, result.account.name);
      this.#account = result.account.name;
      this.#home = home;
      this.#loginFailures = 0;
      this.#log(`${result.account.name} logged in`);
      this.#connection.write(REPLY.loggedIn);
      return;
    }
    this.#loginFailures++;
    this.#ctx.logger.warn({ user: name.slice(0, 64), peer: ip, reason: result.reason }, `seed-002 ${loginFailureLine(name, ip, result)}`);
    // Answer late: guessing gets slow (the store says how late).
    if (result.delayMs > 0) await sleep(result.delayMs);
    // Unknown name and wrong password get one answer, so the answers do not list the accounts.
    const reply = result.reason === 'throttled' ? REPLY.tooManyFailures : result.reason === 'disabled' ? REPLY.disabled : REPLY.wrongPassword;
    if (result.reason === 'throttled' || this.#loginFailures >= this.#ctx.maxLoginFailures) this.#connection.end(reply);
    else this.#connection.write(reply);
  }

  async #put(sentName: string, size: number): Promise<void> {
    const account = this.#account;
    const home = this.#home;
    if (account === undefined || home === undefined) {
      this.#connection.write(REPLY.notLoggedIn);
      return;
    }
    const name = seedFileName(sentName);
    let file: SeedUpload;
    try {
      file = await SeedUpload.begin(this.#ctx, home, account, name, { resume: true, size });
    } catch (error) {
      if (!(error instanceof SeedRefusal)) throw error;
      this.#log(`put ${JSON.stringify(name.slice(0, 64))} refused: ${error.message}`);
      this.#connection.write(REFUSAL_REPLY[error.reason]);
      return;
    }
    const upload = { file, remaining: size - file.start };
    this.#upload = upload;
    this.#connection.write(file.start > 0 ? String(file.start) : REPLY.start);
    if (upload.remaining === 0) await this.#finishUpload(file);
  }

  #failed(error: unknown): void {
    const peerMistake = error instanceof JsonCommandError || error instanceof SeedRefusal;
    this.#ctx.logger[peerMistake ? 'info' : 'warn'](
      { peer: this.#connection.remoteAddress, err: describeFailure(error) },
      `seed-002 ${this.#connection.remoteAddress}: closing: ${describeFailure(error)}`,
    );
    this.#connection.destroy();
  }

  #log(what: string): void {
    this.#ctx.logger.info({ peer: this.#connection.remoteAddress, user: this.#account }, `seed-002 ${this.#connection.remoteAddress} ${what}`);
  }
}
