/**
 * The online dictionary's seed protocol (seed 000 §11, see seed-protocol.ts) as a second front
 * end of the dict service: the same accounts (the store's, throttled), the same databases and the
 * same lookup history as DICT, so a word looked up by the seed's client shows in `XHISTORY` and
 * the other way round.
 *
 * The seed puts the account name in every `Q` and `H` and keeps no session; here a connection
 * may look up and read the history only as the account it logged in as.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { WharfError } from '../../core/errors.js';
import { loginFailureLine } from '../../store/index.js';
import {
  parseSeedCommand,
  SEED_END,
  SEED_FAIL,
  SEED_HISTORY_LENGTH,
  SEED_NOT_FOUND,
  SEED_OK,
  SEED_RECV_BYTES,
  seedHistoryRecord,
  seedMeaning,
  type SeedCommand,
} from './seed-protocol.js';
import type { DictState } from './session.js';

export interface SeedDictOptions {
  state: DictState;
  /**
   * The pause after each history record, so that the seed client's next `recv` reads one record
   * and not two glued together (the seed's `sleep(0.1)`).
   */
  recordGapMs: number;
  /** How long an unterminated message may wait for more bytes before it counts as complete. */
  quietMs?: number;
}

/** Longest message: the seed server's `recv(1024)`. */
const MAX_MESSAGE_BYTES = SEED_RECV_BYTES;
/** Messages read ahead of their answers; the seed client sends one and waits. */
const MAX_PENDING = 16;
const DEFAULT_QUIET_MS = 20;

/**
 * Turns a byte stream into the seed's messages: a line ending in LF is a message (telnet, nc);
 * bytes without one are a message once nothing more arrives for `quietMs` (the seed client,
 * which sends `L name pass` bare and waits). A message split across two TCP segments that
 * arrive further apart than that is read as two: the framing the seed chose cannot do better.
 */
class SeedMessageReader {
  #pending = Buffer.alloc(0);
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly quietMs: number,
    readonly onMessage: (text: string) => void,
    readonly onTooLong: () => void,
  ) {}

  push(chunk: Buffer): void {
    clearTimeout(this.#timer);
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    let at: number;
    while ((at = data.indexOf(0x0a)) !== -1) {
      if (at > MAX_MESSAGE_BYTES) return this.#tooLong();
      this.onMessage(data.subarray(0, at).toString('utf8').replace(/\r$/, ''));
      data = data.subarray(at + 1);
    }
    if (data.length > MAX_MESSAGE_BYTES) return this.#tooLong();
    this.#pending = Buffer.from(data);
    if (data.length > 0) this.#timer = setTimeout(() => this.flush(), this.quietMs);
  }

  /** Whatever is held is a whole message (the quiet time passed, or the peer half-closed). */
  flush(): void {
    clearTimeout(this.#timer);
    const held = this.#pending;
    this.#pending = Buffer.alloc(0);
    if (held.length > 0) this.onMessage(held.toString('utf8'));
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #tooLong(): void {
    this.stop();
    this.#pending = Buffer.alloc(0);
    this.onTooLong();
  }
}

/** One connection's login and the answers to its commands. */
class SeedDictSession {
  #user: string | undefined;

  constructor(
    readonly state: DictState,
    readonly clientIp: string,
  ) {}

  /** The answers to one command: one message each (history records are paced by the caller). */
  async answer(command: SeedCommand): Promise<string[]> {
    switch (command.kind) {
      case 'register':
        return [await this.#register(command.name, command.password)];
      case 'login':
        return [await this.#login(command.name, command.password)];
      case 'query':
        return [command.name === this.#user ? await this.#query(this.#user, command.word) : SEED_FAIL];
      case 'history':
        return command.name === this.#user ? [...(await this.#history(this.#user)), SEED_END] : [SEED_END];
      case 'bad':
        return [SEED_FAIL];
      case 'empty':
      case 'exit':
        return [];
    }
  }

  async #register(name: string, password: string): Promise<string> {
    const accounts = this.state.accounts;
    if (!accounts) return SEED_FAIL;
    try {
      await accounts.register(name, password, this.clientIp);
      return SEED_OK;
    } catch (error) {
      // Taken, reserved, malformed or throttled: the seed has one word for all of them.
      if (!(error instanceof WharfError)) this.state.logger?.warn({ err: error }, 'registration failed');
      return SEED_FAIL;
    }
  }

  async #login(name: string, password: string): Promise<string> {
    const accounts = this.state.accounts;
    if (!accounts) return SEED_FAIL;
    const result = await accounts.verify(name, password, this.clientIp);
    if (result.ok) {
      this.#user = result.account.name;
      return SEED_OK;
    }
    this.#user = undefined;
    this.state.logger?.warn({ account: name.slice(0, 64), peer: this.clientIp, reason: result.reason }, loginFailureLine(name, this.clientIp, result));
    if (result.delayMs > 0) await sleep(result.delayMs);
    return SEED_FAIL;
  }

  async #query(user: string, word: string): Promise<string> {
    let meaning = SEED_NOT_FOUND;
    let database = '!';
    for (const db of this.state.databases.list) {
      const [entry] = db.index.exact(word, 1);
      if (entry === undefined) continue;
      meaning = seedMeaning(db.definition(entry));
      database = db.name;
      this.state.counters.definitions++;
      break;
    }
    try {
      // The seed records every lookup, found or not; the record is written before the answer,
      // so an `H` right after sees it.
      await this.state.history?.record(user, word, database, new Date());
    } catch (error) {
      this.state.logger?.warn({ err: error, account: user }, 'could not record a lookup');
    }
    return meaning;
  }

  async #history(user: string): Promise<string[]> {
    const history = this.state.history;
    if (!history) return [];
    try {
      const rows = await history.latest(user, SEED_HISTORY_LENGTH);
      return rows.map((row) => seedHistoryRecord(row.account, row.word, row.at));
    } catch (error) {
      this.state.logger?.warn({ err: error, account: user }, 'could not read the history');
      return [];
    }
  }
}

/** The seed protocol on one connection: messages answered one at a time, in order. */
export function createSeedDictHandler(options: SeedDictOptions): (connection: Connection) => StreamHandler {
  const { state, recordGapMs } = options;
  return (connection) => {
    const session = new SeedDictSession(state, connection.remoteAddress);
    const queue: SeedCommand[] = [];
    let running = false;
    let peerEnded = false;
    state.counters.connections++;
    state.counters.open++;

    const finish = () => {
      queue.length = 0;
      reader.stop();
      connection.end();
    };
    const send = async (answers: string[]) => {
      for (const [i, answer] of answers.entries()) {
        if (connection.closed) return;
        connection.write(answer);
        // Nothing marks where one answer ends: only time keeps the next from gluing onto it.
        if (i < answers.length - 1) await sleep(recordGapMs);
      }
    };
    const run = async () => {
      running = true;
      while (queue.length > 0 && !connection.closed) {
        const command = queue.shift()!;
        if (command.kind === 'exit') return finish();
        try {
          await send(await session.answer(command));
        } catch (error) {
          state.logger?.error({ err: error, peer: connection.remoteAddress }, 'seed dictionary command failed');
          connection.write(SEED_FAIL);
        }
      }
      running = false;
      if (peerEnded && !connection.closed) connection.end();
    };
    const reader = new SeedMessageReader(
      options.quietMs ?? DEFAULT_QUIET_MS,
      (text) => {
        if (queue.length >= MAX_PENDING) {
          // Not the seed client, which waits for each answer: a flood.
          connection.destroy();
          return;
        }
        queue.push(parseSeedCommand(text));
        if (!running) void run();
      },
      () => {
        connection.write(SEED_FAIL);
        finish();
      },
    );
    return {
      data: (chunk) => reader.push(chunk),
      end() {
        peerEnded = true;
        reader.flush();
        if (!running) connection.end();
      },
      close() {
        reader.stop();
        queue.length = 0;
        state.counters.open--;
      },
    };
  };
}
