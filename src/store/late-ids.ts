/**
 * Which rows of an id-keyed table a reader has yet to see, when ids become visible out of order.
 *
 * PostgreSQL and MySQL take an id when a row is inserted but show the row when its transaction
 * commits, so a reader can see id N+1 before id N. Reading `id > highest seen` would skip N for
 * good. This remembers each gap below the highest id seen (an uncommitted row, or one rolled back
 * that never comes) for `lateMs`, and asks for those ids again on each read, so a late row is
 * applied once when it shows up and a rolled-back one stops being asked for.
 *
 * Bounded: at most `maxGaps` ranges (the oldest dropped first), each kept `lateMs`. Each read is
 * `id > highest OR id BETWEEN lo AND hi ...`: ranges of the primary key, so only new rows are
 * fetched however many rows the table holds.
 */
export interface IdRange {
  lo: number;
  hi: number;
}

interface Gap extends IdRange {
  /** When the gap was first seen (the reader's clock): asked for until `since + lateMs`. */
  since: number;
}

export interface LateIdsOptions {
  /** How long an id missing below the highest seen is waited for (default 60 s). */
  lateMs?: number;
  /** Most gaps remembered (default 256); the oldest go first. */
  maxGaps?: number;
}

export class LateIds {
  readonly #lateMs: number;
  readonly #maxGaps: number;
  /** Sorted by `lo`, not overlapping, all below `#highest`. */
  #gaps: Gap[] = [];
  #highest = 0;

  constructor(options: LateIdsOptions = {}) {
    this.#lateMs = options.lateMs ?? 60_000;
    this.#maxGaps = options.maxGaps ?? 256;
  }

  /** The highest id seen: every id above it is unseen. */
  get highest(): number {
    return this.#highest;
  }

  /** Start after `id` (what a replay ended on) with no gaps. */
  startAfter(id: number): void {
    this.#highest = id;
    this.#gaps = [];
  }

  /** The ranges below `highest` still worth asking for at `now` (expired ones are forgotten). */
  waitingFor(now: number): IdRange[] {
    this.#gaps = this.#gaps.filter((gap) => now - gap.since < this.#lateMs);
    return this.#gaps.map(({ lo, hi }) => ({ lo, hi }));
  }

  /**
   * Note that row `id` was read at `now`. True when it is new to this reader (apply it), false
   * when it was seen before or its gap was given up on.
   */
  saw(id: number, now: number): boolean {
    if (id > this.#highest) {
      if (id > this.#highest + 1) this.#add({ lo: this.#highest + 1, hi: id - 1, since: now });
      this.#highest = id;
      return true;
    }
    const index = this.#gaps.findIndex((gap) => gap.lo <= id && id <= gap.hi);
    if (index < 0) return false;
    const gap = this.#gaps[index]!;
    const rest: Gap[] = [];
    if (gap.lo < id) rest.push({ lo: gap.lo, hi: id - 1, since: gap.since });
    if (id < gap.hi) rest.push({ lo: id + 1, hi: gap.hi, since: gap.since });
    this.#gaps.splice(index, 1, ...rest);
    if (this.#gaps.length > this.#maxGaps) this.#gaps.shift();
    return true;
  }

  #add(gap: Gap): void {
    this.#gaps.push(gap);
    if (this.#gaps.length > this.#maxGaps) this.#gaps.shift();
  }
}
