import { sql, type ColumnType, type Generated, type Kysely } from 'kysely';
import type { Logger } from '../../core/logger.js';
import type { Store } from '../../store/index.js';
import type { ChatMessage, MessageKind } from './protocol.js';

/**
 * Where a room's messages are kept once they are said: the store's `chat_messages` table, or
 * memory (a library user without a store, tests). The room bus writes to it in batches and reads
 * from it only for what its recent-message memory does not hold.
 */
export interface HistoryStore {
  /** The highest sequence number kept for `room` (0 for none). */
  lastSeq(room: string): Promise<number>;
  /** Keep these messages (several rooms at once, ascending within each room); a (room, seq) already kept is skipped. */
  append(messages: readonly ChatMessage[]): Promise<void>;
  /** The newest `limit` messages of `room` with `after < seq < before`, ascending. */
  range(room: string, after: number, before: number, limit: number): Promise<ChatMessage[]>;
}

/** History in memory, at most `maxPerRoom` messages per room (the oldest go first). */
export class MemoryHistory implements HistoryStore {
  readonly #rooms = new Map<string, ChatMessage[]>();
  readonly #maxPerRoom: number;

  constructor(options: { maxPerRoom?: number } = {}) {
    this.#maxPerRoom = options.maxPerRoom ?? 10_000;
  }

  async lastSeq(room: string): Promise<number> {
    return this.#rooms.get(room)?.at(-1)?.seq ?? 0;
  }

  async append(messages: readonly ChatMessage[]): Promise<void> {
    for (const message of messages) {
      let list = this.#rooms.get(message.room);
      if (!list) {
        list = [];
        this.#rooms.set(message.room, list);
      }
      const last = list.at(-1)?.seq ?? 0;
      if (message.seq <= last && list.some((kept) => kept.seq === message.seq)) continue;
      list.push(message);
      if (list.length > this.#maxPerRoom) list.splice(0, list.length - this.#maxPerRoom);
    }
  }

  async range(room: string, after: number, before: number, limit: number): Promise<ChatMessage[]> {
    const list = this.#rooms.get(room) ?? [];
    const inRange = list.filter((m) => m.seq > after && m.seq < before);
    return inRange.slice(Math.max(0, inRange.length - limit));
  }
}

type BigIntRead = ColumnType<number | string | bigint, number, number>;

/** `chat_messages` (migration 0004_chat): every message of every room, numbered per room. */
export interface ChatMessagesTable {
  id: Generated<number>;
  room: string;
  seq: BigIntRead;
  kind: string;
  sender: string;
  text: string;
  created_at: BigIntRead;
  client_id: string | null;
}

export interface ChatSchema {
  chat_messages: ChatMessagesTable;
}

/** Rows per INSERT: well under every dialect's limit on bound parameters. */
const ROWS_PER_INSERT = 500;

/** History in the store's database (SQLite, PostgreSQL or MySQL), surviving a restart. */
export class SqlHistory implements HistoryStore {
  readonly #db: Kysely<ChatSchema>;
  readonly #dialect: Store['dialect'];
  readonly #logger: Logger | undefined;

  constructor(store: Pick<Store, 'db' | 'dialect'>, logger?: Logger) {
    // The chat's tables are its own (migration 0004); the shared Schema type does not list them.
    this.#db = store.db as unknown as Kysely<ChatSchema>;
    this.#dialect = store.dialect;
    this.#logger = logger;
  }

  async lastSeq(room: string): Promise<number> {
    const row = await this.#db
      .selectFrom('chat_messages')
      .select(sql<number | string | null>`max(seq)`.as('last'))
      .where('room', '=', room)
      .executeTakeFirst();
    return Number(row?.last ?? 0);
  }

  async append(messages: readonly ChatMessage[]): Promise<void> {
    for (let start = 0; start < messages.length; start += ROWS_PER_INSERT) {
      const rows = messages.slice(start, start + ROWS_PER_INSERT).map((m) => ({
        room: m.room,
        seq: m.seq,
        kind: m.kind,
        sender: m.from,
        text: m.text,
        created_at: m.time,
        client_id: m.cid ?? null,
      }));
      // A (room, seq) already kept (a number written twice, by a retry or by two nodes) is skipped
      // row by row: one duplicate must never cost the rest of its batch their place.
      const insert = this.#db.insertInto('chat_messages').values(rows);
      await (this.#dialect === 'mysql' ? insert.ignore() : insert.onConflict((conflict) => conflict.columns(['room', 'seq']).doNothing())).execute();
    }
    this.#logger?.trace({ messages: messages.length }, 'chat history written');
  }

  async range(room: string, after: number, before: number, limit: number): Promise<ChatMessage[]> {
    const rows = await this.#db
      .selectFrom('chat_messages')
      .select(['room', 'seq', 'kind', 'sender', 'text', 'created_at', 'client_id'])
      .where('room', '=', room)
      .where('seq', '>', after)
      .where('seq', '<', Math.min(before, Number.MAX_SAFE_INTEGER))
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((row) => {
      const message: ChatMessage = {
        room: row.room,
        seq: Number(row.seq),
        kind: (row.kind === 'admin' ? 'admin' : 'chat') satisfies MessageKind,
        from: row.sender,
        text: row.text,
        time: Number(row.created_at),
      };
      if (row.client_id !== null) message.cid = row.client_id;
      return message;
    });
  }
}

/**
 * Writes messages to a HistoryStore in batches (every message of one event-loop turn in one
 * INSERT), one batch at a time, never holding more than `maxPending` unwritten: past that, messages
 * are counted in `failures` and kept only where the room bus keeps recent ones (memory, or Redis).
 */
export class HistoryWriter {
  readonly #history: HistoryStore;
  readonly #logger: Logger | undefined;
  readonly #maxPending: number;
  #pending: ChatMessage[] = [];
  #writing: Promise<void> | undefined;
  #scheduled = false;
  /** Messages not written to the history store (it failed, or too many were waiting). */
  failures = 0;

  constructor(history: HistoryStore, options: { logger?: Logger | undefined; maxPending?: number } = {}) {
    this.#history = history;
    this.#logger = options.logger;
    this.#maxPending = options.maxPending ?? 100_000;
  }

  write(message: ChatMessage): void {
    if (this.#pending.length >= this.#maxPending) {
      this.failures++;
      if (this.failures % 10_000 === 1) this.#logger?.warn({ pending: this.#pending.length }, 'chat history is not keeping up; messages are kept in memory only');
      return;
    }
    this.#pending.push(message);
    if (!this.#scheduled && !this.#writing) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        if (!this.#writing) this.#start();
      });
    }
  }

  /** Resolves once every message written so far is in the store (or failed to get there). */
  async flushed(): Promise<void> {
    while (this.#writing || this.#pending.length > 0) {
      if (!this.#writing) this.#start();
      await this.#writing;
    }
  }

  #start(): void {
    if (this.#writing || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#writing = this.#history
      .append(batch)
      .catch((error: unknown) => {
        this.failures += batch.length;
        this.#logger?.error({ err: error, messages: batch.length }, 'could not write chat history');
      })
      .finally(() => {
        this.#writing = undefined;
        if (this.#pending.length > 0) this.#start();
      });
  }
}
