/**
 * The portal's live diary: Server-Sent Events (`text/event-stream`) that carry each new entry of
 * a diary to the pages reading it, whoever wrote it (a seed client over UDP, `wharf diary`,
 * another browser). The diary writer says which diaries a commit touched (writer.ts `changed`);
 * the feed then reads what is new from the store, once per diary, and sends it to every stream
 * of that diary. Reading the store (rather than passing the committed rows along) is what lets a
 * stream that reconnects catch up from its `Last-Event-ID` by the same path, and a slow poll
 * pick up entries another process stored (`wharf diary import`, a second worker).
 *
 * Events: `entry` (id: the entry's id, data: a `PortalEntry`), `cleared` (the diary was emptied),
 * `reset` (more was missed than a catch-up sends: reload the list), and `: ping` comments that
 * keep proxies and idle timers from closing a quiet stream.
 *
 * Per diary, the catch-ups and the broadcasts run one after another (a promise chain), so an
 * entry can never slip between a stream's catch-up and its first broadcast; each stream keeps
 * the highest id it was sent and is never sent an entry twice.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WharfError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { DiaryStore, StoredEntry } from '../diary-store.js';

/** An entry as the portal shows it: never the writer's address, only an account's name. */
export interface PortalEntry {
  id: number;
  /** Milliseconds since the epoch. */
  t: number;
  text: string;
  /** The account that wrote it; absent for an anonymous writer. */
  by?: string;
}

export function portalEntry(entry: StoredEntry): PortalEntry {
  return { id: entry.id, t: entry.ms, text: entry.text, ...(entry.account !== null ? { by: entry.account } : {}) };
}

export interface DiaryFeedOptions {
  store: DiaryStore;
  logger: Logger;
  /** A `: ping` comment on every stream this often. */
  heartbeatMs: number;
  /** Read the store for entries of other processes this often (0: never). */
  pollMs: number;
  /** Streams open at once, over everyone. */
  maxStreams: number;
  /** Streams open at once per account (signed in) or per address (visitor). */
  maxStreamsPerClient: number;
  /** Entries a reconnecting stream is sent; past it, `reset` (the page reloads its list). */
  maxCatchUp: number;
  /** Bytes waiting to be sent on one stream; past it the stream is closed (its reader does not read). */
  maxQueuedBytes: number;
}

interface Stream {
  readonly res: ServerResponse;
  readonly client: string;
  readonly channel: Channel;
  /** The highest entry id sent (or known to the page) on this stream. */
  cursor: number;
  /** Its catch-up is done: broadcasts reach it from now on (before, the catch-up reads them). */
  ready: boolean;
}

interface Channel {
  readonly diary: string;
  readonly streams: Set<Stream>;
  /** The highest entry id read for this diary's broadcasts; undefined until first read. */
  lastId: number | undefined;
  /** The catch-ups and broadcasts of this diary, one after another. */
  chain: Promise<void>;
  /** A broadcast is queued on the chain and has not started: another change joins it. */
  broadcastQueued: boolean;
}

/** Rows read per query of a broadcast. */
const BROADCAST_ROWS = 256;

export class DiaryFeed {
  readonly #options: DiaryFeedOptions;
  readonly #channels = new Map<string, Channel>();
  readonly #perClient = new Map<string, number>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #poll: NodeJS.Timeout | undefined;
  #streams = 0;
  #closed = false;

  constructor(options: DiaryFeedOptions) {
    this.#options = options;
    this.#heartbeat = setInterval(() => this.#ping(), options.heartbeatMs);
    this.#heartbeat.unref();
    if (options.pollMs > 0) {
      this.#poll = setInterval(() => {
        for (const diary of this.#channels.keys()) this.changed(diary);
      }, options.pollMs);
      this.#poll.unref();
    }
  }

  /** Streams open now. */
  get size(): number {
    return this.#streams;
  }

  /**
   * Open a stream of `diary` on `res`. `client` is who counts against the per-client cap (an
   * account, an address). `after`: the highest id the page has (its `Last-Event-ID` on a
   * reconnect); entries after it are sent first. Undefined: only entries from now on.
   * Throws (before anything is written) when a cap is reached.
   */
  open(req: IncomingMessage, res: ServerResponse, options: { diary: string; client: string; after: number | undefined }): void {
    if (this.#closed) throw new WharfError('EOVERLOAD', 'the diary is stopping');
    if (this.#streams >= this.#options.maxStreams) throw new WharfError('EOVERLOAD', 'too many live diary streams are open; try again later');
    const mine = this.#perClient.get(options.client) ?? 0;
    if (mine >= this.#options.maxStreamsPerClient) {
      throw new WharfError('ETHROTTLED', `at most ${this.#options.maxStreamsPerClient} live diary pages may be open at once; close one`);
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      // A reverse proxy (nginx) must pass the events on as they come, not buffer them.
      'X-Accel-Buffering': 'no',
    });
    // Reconnect after 2 s (EventSource's default is browser-specific).
    res.write('retry: 2000\n\n');
    const channel = this.#channel(options.diary);
    const stream: Stream = { res, client: options.client, channel, cursor: 0, ready: false };
    channel.streams.add(stream);
    this.#streams += 1;
    this.#perClient.set(options.client, mine + 1);
    res.once('close', () => this.#forget(stream));
    // Gone before we listened (the portal's own checks are asynchronous): 'close' will not come.
    if (res.destroyed || req.socket?.destroyed === true) {
      this.#forget(stream);
      return;
    }
    this.#enqueue(channel, () => this.#catchUp(stream, options.after));
  }

  /** New entries may be in `diary`: read and send them. Cheap when nobody follows it. */
  changed(diary: string): void {
    const channel = this.#channels.get(diary);
    if (!channel || channel.broadcastQueued) return;
    channel.broadcastQueued = true;
    this.#enqueue(channel, async () => {
      channel.broadcastQueued = false;
      await this.#broadcast(channel);
    });
  }

  /** `diary` was emptied: its pages empty their lists. */
  cleared(diary: string): void {
    const channel = this.#channels.get(diary);
    if (!channel) return;
    this.#enqueue(channel, async () => {
      for (const stream of channel.streams) if (stream.ready) this.#write(stream, 'event: cleared\ndata: {}\n\n');
    });
  }

  /** End every stream (the service stops); a page's EventSource then finds the section gone. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    if (this.#poll) clearInterval(this.#poll);
    for (const channel of this.#channels.values()) for (const stream of channel.streams) stream.res.end();
  }

  #channel(diary: string): Channel {
    let channel = this.#channels.get(diary);
    if (!channel) {
      channel = { diary, streams: new Set(), lastId: undefined, chain: Promise.resolve(), broadcastQueued: false };
      this.#channels.set(diary, channel);
    }
    return channel;
  }

  #enqueue(channel: Channel, work: () => Promise<void>): void {
    channel.chain = channel.chain.then(work).catch((error: unknown) => {
      // The store failed: end this diary's streams; each page reconnects and catches up.
      this.#options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'diary: the live feed could not read the store');
      for (const stream of channel.streams) stream.res.end();
    });
  }

  #forget(stream: Stream): void {
    const { channel } = stream;
    if (!channel.streams.delete(stream)) return;
    this.#streams -= 1;
    const left = (this.#perClient.get(stream.client) ?? 1) - 1;
    if (left > 0) this.#perClient.set(stream.client, left);
    else this.#perClient.delete(stream.client);
    if (channel.streams.size === 0 && this.#channels.get(channel.diary) === channel) this.#channels.delete(channel.diary);
  }

  async #newestId(diary: string): Promise<number> {
    const [newest] = await this.#options.store.newest(diary, 1);
    return newest?.id ?? 0;
  }

  async #catchUp(stream: Stream, after: number | undefined): Promise<void> {
    const channel = stream.channel;
    if (!channel.streams.has(stream)) return;
    channel.lastId ??= await this.#newestId(channel.diary);
    stream.ready = true;
    if (after === undefined) {
      stream.cursor = channel.lastId;
      return;
    }
    // A page cannot know ids that do not exist yet: a larger one (another database, a store that
    // was reset) must not hide the entries that will get those ids.
    const from = Math.min(after, channel.lastId);
    const rows = await this.#options.store.page(channel.diary, { afterId: from, limit: this.#options.maxCatchUp + 1 });
    if (rows.length > this.#options.maxCatchUp) {
      // More was missed than is worth replaying: the page reloads its newest entries, and this
      // stream goes on from what the broadcasts have read (everything up to it is in the store).
      stream.cursor = channel.lastId;
      this.#write(stream, 'event: reset\ndata: {}\n\n');
      return;
    }
    stream.cursor = from;
    for (const row of rows) this.#send(stream, row);
  }

  async #broadcast(channel: Channel): Promise<void> {
    if (channel.streams.size === 0) return;
    channel.lastId ??= await this.#newestId(channel.diary);
    for (;;) {
      const rows = await this.#options.store.page(channel.diary, { afterId: channel.lastId, limit: BROADCAST_ROWS });
      for (const row of rows) for (const stream of channel.streams) if (stream.ready) this.#send(stream, row);
      if (rows.length > 0) channel.lastId = rows.at(-1)!.id;
      if (rows.length < BROADCAST_ROWS) return;
    }
  }

  #send(stream: Stream, entry: StoredEntry): void {
    if (entry.id <= stream.cursor) return;
    stream.cursor = entry.id;
    // JSON has no raw line breaks, so the data is one `data:` line.
    this.#write(stream, `id: ${entry.id}\nevent: entry\ndata: ${JSON.stringify(portalEntry(entry))}\n\n`);
  }

  #write(stream: Stream, text: string): void {
    const { res } = stream;
    if (res.destroyed || res.writableEnded) return;
    res.write(text);
    // A reader that does not read is dropped; it catches up from Last-Event-ID if it comes back.
    if (res.writableLength > this.#options.maxQueuedBytes) res.destroy();
  }

  #ping(): void {
    for (const channel of this.#channels.values()) for (const stream of channel.streams) this.#write(stream, ': ping\n\n');
  }
}
