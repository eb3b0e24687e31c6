import type { Logger } from '../../core/logger.js';
import type { DatagramPeer } from '../../core/udp-server.js';
import { WharfError } from '../../core/errors.js';
import type { DiaryStore, NewEntry, SequencedEntry } from './diary-store.js';
import type { ServerMessage } from './protocol.js';

/**
 * Group commit: every entry that arrives while a transaction is running waits for the next one,
 * which then stores all of them at once. Nobody is answered before the transaction that holds
 * their entry has committed, so an answered entry survives a crash of the process; and one
 * transaction per batch (not per entry) is what makes that affordable.
 *
 * Clears are queued in the same line as writes, so a `-c` sent after an entry is answered
 * happens after that entry, as in the seed's one-at-a-time loop.
 *
 * For wharf's own clients, entries are held here until their client's sequence reaches them
 * (a datagram overtaken by a later one on the network): each client's entries are stored in the
 * order of their sequence numbers, and each one once.
 */

export interface DiaryWriterOptions {
  store: DiaryStore;
  logger: Logger;
  /** Sends an acknowledgement to a peer. */
  send: (peer: DatagramPeer, message: ServerMessage) => void;
  /** Held entries over all clients (entries that arrived ahead of a gap). */
  maxHeldEntries: number;
  /** Held entries per client. */
  maxHeldPerClient: number;
  /** Seed entries waiting for a commit; past this, a seed client is told to try again. */
  maxQueuedSeedEntries: number;
  /**
   * Told after each commit which diaries got entries, and after each clear which diary was
   * emptied: the portal's live feed (portal/feed.ts) reads the new entries then.
   */
  changed?: (change: DiaryChange) => void;
}

/** What a commit or a clear did, for whoever follows the diaries live. */
export type DiaryChange = { kind: 'entries'; diaries: ReadonlySet<string> } | { kind: 'cleared'; diary: string };

interface ClientState {
  /** Entries that arrived and are not stored yet, by sequence number. */
  held: Map<number, SequencedEntry>;
  /** Datagrams to acknowledge after the next commit: who sent them, which entries they held. */
  waiting: Array<{ peer: DatagramPeer; seqs: number[] }>;
  /** Recently refused entries, to say so again if their refusal's acknowledgement was lost. */
  refused: Map<number, [code: string, message: string]>;
  lastSeen: number;
}

type Operation =
  | { kind: 'writes'; seed: Array<{ entry: NewEntry; resolve: (ms: number) => void; reject: (error: Error) => void }>; clients: Set<string> }
  | {
      kind: 'clear';
      diary: string;
      who: { account: string | null; address: string | null };
      requestId: string | undefined;
      resolve: (result: { removed: number; replayed: boolean }) => void;
      reject: (error: Error) => void;
    };

const MAX_REMEMBERED_REFUSALS = 1024;
const MAX_HELD_RANGES = 16;
/** Entry times and refusals per acknowledgement, to keep it near 1,200 bytes. */
const ACK_TIMES = 40;
const ACK_REFUSALS = 8;

/** Sorted runs of consecutive numbers, the lowest `max` of them: [1, 2, 3, 7] → [[1, 3], [7, 7]]. */
export function rangesOf(numbers: Iterable<number>, max: number): Array<[number, number]> {
  const sorted = [...numbers].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const n of sorted) {
    const last = ranges.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else if (!last || n > last[1]) {
      if (ranges.length === max) break;
      ranges.push([n, n]);
    }
  }
  return ranges;
}

export class DiaryWriter {
  readonly #options: DiaryWriterOptions;
  readonly #clients = new Map<string, ClientState>();
  readonly #queue: Operation[] = [];
  #held = 0;
  #queuedSeed = 0;
  #running: Promise<void> | undefined;
  /** Counters for the logs and tests. */
  readonly stats = { commits: 0, stored: 0, duplicates: 0, dropped: 0, failures: 0 };

  constructor(options: DiaryWriterOptions) {
    this.#options = options;
  }

  /** Store a seed client's entry; resolves with its time stamp once committed. */
  seed(entry: NewEntry): Promise<number> {
    if (this.#queuedSeed >= this.#options.maxQueuedSeedEntries) {
      this.stats.dropped += 1;
      return Promise.reject(new WharfError('EOVERLOAD', 'too many entries waiting to be stored'));
    }
    this.#queuedSeed += 1;
    return new Promise((resolve, reject) => {
      this.#writes().seed.push({ entry, resolve, reject });
      this.#kick();
    });
  }

  /**
   * Entries of wharf's protocol from `clientId` (one WRITE datagram). The datagram is
   * acknowledged after the next commit, with the client's whole stored sequence (`upTo`).
   * Returns false when the datagram was dropped for a limit (the client will resend it).
   */
  client(clientId: string, entries: ReadonlyArray<readonly [seq: number, entry: SequencedEntry]>, peer: DatagramPeer): boolean {
    let state = this.#clients.get(clientId);
    const fresh = entries.filter(([seq]) => !state?.held.has(seq)).length;
    if (this.#held + fresh > this.#options.maxHeldEntries || (state?.held.size ?? 0) + fresh > this.#options.maxHeldPerClient) {
      this.stats.dropped += entries.length;
      return false;
    }
    if (!state) {
      state = { held: new Map(), waiting: [], refused: new Map(), lastSeen: 0 };
      this.#clients.set(clientId, state);
    }
    state.lastSeen = Date.now();
    for (const [seq, entry] of entries) {
      if (state.held.has(seq)) continue;
      state.held.set(seq, entry);
      this.#held += 1;
    }
    state.waiting.push({ peer, seqs: entries.map(([seq]) => seq) });
    this.#writes().clients.add(clientId);
    this.#kick();
    return true;
  }

  /** Empty a diary, in line with the writes queued before. */
  clear(diary: string, who: { account: string | null; address: string | null }, requestId?: string): Promise<{ removed: number; replayed: boolean }> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind: 'clear', diary, who, requestId, resolve, reject });
      this.#kick();
    });
  }

  /** Forget clients silent for `idleMs` (with what they had held: they gave up or will resend). */
  sweep(idleMs: number, now = Date.now()): void {
    for (const [clientId, state] of this.#clients) {
      if (now - state.lastSeen < idleMs || state.waiting.length > 0) continue;
      this.#held -= state.held.size;
      this.#clients.delete(clientId);
    }
  }

  /** Clients with state in memory (for tests and the logs). */
  get clientCount(): number {
    return this.#clients.size;
  }

  get heldCount(): number {
    return this.#held;
  }

  /** Resolves when everything queued so far has been committed (or has failed). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** The `writes` operation that new entries join: the last queued one, or a new one. */
  #writes(): Extract<Operation, { kind: 'writes' }> {
    const last = this.#queue.at(-1);
    if (last?.kind === 'writes') return last;
    const op: Extract<Operation, { kind: 'writes' }> = { kind: 'writes', seed: [], clients: new Set() };
    this.#queue.push(op);
    return op;
  }

  #kick(): void {
    if (this.#running) return;
    // setImmediate: let every datagram already in the socket's queue join this batch.
    this.#running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      for (let op = this.#queue.shift(); op !== undefined; op = this.#queue.shift()) {
        if (op.kind === 'clear') {
          try {
            const result = await this.#options.store.clear(op.diary, op.who, op.requestId);
            if (!result.replayed) this.#tell({ kind: 'cleared', diary: op.diary });
            op.resolve(result);
          } catch (error) {
            op.reject(error as Error);
          }
        } else {
          await this.#commit(op);
        }
      }
    } finally {
      this.#running = undefined;
    }
  }

  /** A follower's failure is its own: it never fails a commit or its acknowledgements. */
  #tell(change: DiaryChange): void {
    try {
      this.#options.changed?.(change);
    } catch (error) {
      this.#options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'diary: a live follower failed');
    }
  }

  async #commit(op: Extract<Operation, { kind: 'writes' }>): Promise<void> {
    const { store, logger } = this.#options;
    this.#queuedSeed -= op.seed.length;
    const clients = new Map<string, ReadonlyMap<number, SequencedEntry>>();
    for (const clientId of op.clients) {
      const state = this.#clients.get(clientId);
      if (state) clients.set(clientId, state.held);
    }
    let result: Awaited<ReturnType<DiaryStore['commitWrites']>>;
    try {
      result = await store.commitWrites(
        op.seed.map((s) => s.entry),
        clients,
      );
    } catch (error) {
      this.stats.failures += 1;
      logger.warn({ err: error instanceof Error ? error.message : String(error), entries: op.seed.length, clients: clients.size }, 'diary commit failed; nothing was acknowledged');
      for (const s of op.seed) s.reject(error as Error);
      // Wharf clients get no acknowledgement and resend; what they sent stays held.
      for (const clientId of clients.keys()) {
        const state = this.#clients.get(clientId);
        if (state) state.waiting = [];
      }
      return;
    }
    this.stats.commits += 1;
    this.stats.stored += op.seed.length;
    const diaries = new Set(op.seed.map((s) => s.entry.diary));
    for (const s of op.seed) s.resolve(result.ms);
    for (const [clientId, { before, after }] of result.clients) {
      const state = this.#clients.get(clientId);
      if (!state) continue;
      const times = new Map<number, number>();
      for (let seq = before + 1; seq <= after; seq++) {
        const entry = state.held.get(seq);
        if (entry && !entry.refused) diaries.add(entry.diary);
        if (entry?.refused) {
          state.refused.set(seq, [entry.refused.code, entry.refused.message]);
          if (state.refused.size > MAX_REMEMBERED_REFUSALS) state.refused.delete(state.refused.keys().next().value!);
        } else {
          this.stats.stored += 1;
        }
      }
      // Everything up to `after` is done: drop it from the held entries (duplicates included).
      for (const seq of state.held.keys()) {
        if (seq <= after) {
          state.held.delete(seq);
          this.#held -= 1;
        }
      }
      const waiting = state.waiting;
      state.waiting = [];
      const duplicates = [...new Set(waiting.flatMap((w) => w.seqs.filter((seq) => seq <= before && !state.refused.has(seq))))];
      this.stats.duplicates += duplicates.length;
      if (duplicates.length > 0) {
        try {
          for (const [seq, ms] of await store.entryTimes(clientId, duplicates)) times.set(seq, ms);
        } catch (error) {
          logger.debug({ err: String(error) }, 'could not look up the times of resent entries');
        }
      }
      const heldRanges = rangesOf(state.held.keys(), MAX_HELD_RANGES);
      // One acknowledgement per peer per commit (not one per datagram): it is cumulative, and
      // carries the times and refusals of every datagram that peer sent, in as few datagrams as
      // keep under ACK_BYTES.
      const byPeer = new Map<string, { peer: DatagramPeer; seqs: Set<number> }>();
      for (const { peer, seqs } of waiting) {
        const key = `${peer.address}\u0000${peer.port}`;
        const group = byPeer.get(key) ?? { peer, seqs: new Set<number>() };
        for (const seq of seqs) group.seqs.add(seq);
        byPeer.set(key, group);
      }
      for (const { peer, seqs } of byPeer.values()) {
        const t: Array<[number, number]> = [];
        const rej: Array<[number, string, string]> = [];
        for (const seq of seqs) {
          if (seq > after) continue;
          const refusal = state.refused.get(seq);
          if (refusal) rej.push([seq, ...refusal]);
          else if (seq <= before) {
            const ms = times.get(seq);
            if (ms !== undefined) t.push([seq, ms]);
          }
        }
        const base: Extract<ServerMessage, { op: 'ack' }> = {
          op: 'ack',
          c: clientId,
          upTo: after,
          ...(after > before ? { from: before + 1, at: result.ms } : {}),
          ...(heldRanges.length ? { held: heldRanges } : {}),
        };
        // Times take about 24 bytes each, refusals up to about 100: split long lists.
        do {
          const tPart = t.splice(0, ACK_TIMES);
          const rejPart = rej.splice(0, ACK_REFUSALS);
          this.#options.send(peer, { ...base, ...(tPart.length ? { t: tPart } : {}), ...(rejPart.length ? { rej: rejPart } : {}) });
        } while (t.length > 0 || rej.length > 0);
      }
    }
    if (diaries.size > 0) this.#tell({ kind: 'entries', diaries });
  }
}
