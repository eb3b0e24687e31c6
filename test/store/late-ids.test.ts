import { describe, expect, it } from 'vitest';
import { LateIds } from '../../src/store/late-ids.js';

describe('LateIds: rows whose ids become visible out of order', () => {
  it('a row that commits after a later one was read is new once, and asked for until it comes', () => {
    const ids = new LateIds({ lateMs: 1000 });
    expect(ids.saw(1, 0)).toBe(true);
    expect(ids.saw(3, 0)).toBe(true);
    expect(ids.highest).toBe(3);
    expect(ids.waitingFor(10)).toEqual([{ lo: 2, hi: 2 }]);
    expect(ids.saw(2, 20)).toBe(true);
    expect(ids.saw(2, 30)).toBe(false);
    expect(ids.saw(3, 30)).toBe(false);
    expect(ids.waitingFor(40)).toEqual([]);
  });

  it('a row filling the middle of a wide gap leaves both sides waited for', () => {
    const ids = new LateIds();
    ids.startAfter(10);
    ids.saw(20, 0);
    ids.saw(15, 0);
    expect(ids.waitingFor(0)).toEqual([
      { lo: 11, hi: 14 },
      { lo: 16, hi: 19 },
    ]);
  });

  it('a gap that never fills (a rolled-back insert) is given up after lateMs', () => {
    const ids = new LateIds({ lateMs: 1000 });
    ids.saw(1, 0);
    ids.saw(3, 0);
    expect(ids.waitingFor(999)).toHaveLength(1);
    expect(ids.waitingFor(1000)).toEqual([]);
    expect(ids.saw(2, 1001)).toBe(false);
  });

  it('keeps at most maxGaps gaps, dropping the oldest', () => {
    const ids = new LateIds({ maxGaps: 3 });
    for (let id = 2; id <= 20; id += 2) ids.saw(id, 0);
    expect(ids.waitingFor(0)).toEqual([
      { lo: 15, hi: 15 },
      { lo: 17, hi: 17 },
      { lo: 19, hi: 19 },
    ]);
  });
});
