import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHistory, SqlHistory, type HistoryStore } from '../../../src/services/chat/history.js';
import type { ChatMessage } from '../../../src/services/chat/protocol.js';
import { InProcessRoomBus, type MemberInfo, type RoomEvent } from '../../../src/services/chat/room.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { testDatabases, type FreshDatabase } from '../../store/databases.js';

const member = (name: string, room = 'lobby'): MemberInfo => ({ name, room, via: 'tcp', account: false, address: '127.0.0.1:1' });

/** A history store that counts its reads, to prove memory answers the recent ones. */
class CountingHistory extends MemoryHistory {
  reads = 0;
  override async range(room: string, after: number, before: number, limit: number): Promise<ChatMessage[]> {
    this.reads++;
    return super.range(room, after, before, limit);
  }
}

describe('chat room bus (in process)', () => {
  it('names are claimed once, by their owner; only the owner can speak, move or release', async () => {
    const bus = new InProcessRoomBus({ history: new MemoryHistory() });
    const events: RoomEvent[] = [];
    bus.subscribe((e) => events.push(e));
    expect(await bus.claim(member('alice'), 'o1')).toEqual({ ok: true });
    expect(await bus.claim(member('alice'), 'o2')).toEqual({ ok: false, reason: 'taken' });
    expect(await bus.publish('lobby', { kind: 'chat', from: 'alice', text: 'x' }, 'o2')).toBeUndefined();
    expect(await bus.publish('lobby', { kind: 'chat', from: 'alice', text: 'x' }, 'o1')).toMatchObject({ seq: 1 });
    await bus.release('alice', 'o2', 'left');
    expect(await bus.owner('alice')).toBe('o1');
    expect(await bus.move('alice', 'o1', 'kitchen')).toEqual({ ok: true });
    expect(await bus.publish('lobby', { kind: 'chat', from: 'alice', text: 'wrong room' }, 'o1')).toBeUndefined();
    expect(await bus.transfer('alice', 'o1', 'o3')).toBe(true);
    await bus.release('alice', 'o1', 'left');
    expect(await bus.owner('alice')).toBe('o3');
    await bus.release('alice', 'o3', 'left');
    expect(await bus.owner('alice')).toBeUndefined();
    expect(events.map((e) => `${e.type}:${'room' in e ? e.room : ''}`)).toEqual(['join:lobby', 'message:', 'leave:lobby', 'join:kitchen', 'leave:kitchen']);
  });

  it('caps members and rooms', async () => {
    const bus = new InProcessRoomBus({ history: new MemoryHistory(), maxMembers: 2, maxRooms: 1 });
    expect(await bus.claim(member('a'), 'a')).toEqual({ ok: true });
    expect(await bus.claim(member('b', 'other'), 'b')).toEqual({ ok: false, reason: 'too-many-rooms' });
    expect(await bus.claim(member('b'), 'b')).toEqual({ ok: true });
    expect(await bus.claim(member('c'), 'c')).toEqual({ ok: false, reason: 'full' });
  });

  it('answers recent history from memory and older history from the store, marking what is complete', async () => {
    const history = new CountingHistory();
    const bus = new InProcessRoomBus({ history, recentPerRoom: 10 });
    await bus.claim(member('a'), 'a');
    for (let i = 1; i <= 30; i++) await bus.publish('lobby', { kind: 'chat', from: 'a', text: `m${i}` }, 'a');
    expect(await bus.history('lobby', { after: 25, limit: 100 })).toMatchObject({ complete: true });
    expect((await bus.history('lobby', { after: 25, limit: 100 })).messages.map((m) => m.seq)).toEqual([26, 27, 28, 29, 30]);
    expect(history.reads).toBe(0);
    const older = await bus.history('lobby', { after: 5, limit: 100 });
    expect(older.messages.map((m) => m.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 6));
    expect(older.complete).toBe(true);
    expect(history.reads).toBe(1);
    const cut = await bus.history('lobby', { after: 0, limit: 4 });
    expect(cut.messages.map((m) => m.seq)).toEqual([27, 28, 29, 30]);
    expect(cut.complete).toBe(false);
    const page = await bus.history('lobby', { before: 5, limit: 2 });
    expect(page.messages.map((m) => m.seq)).toEqual([3, 4]);
  });

  it('numbering continues from the history store (a restart)', async () => {
    const history = new MemoryHistory();
    const first = new InProcessRoomBus({ history });
    await first.claim(member('a'), 'a');
    await first.publish('lobby', { kind: 'chat', from: 'a', text: 'one' }, 'a');
    await first.publish('lobby', { kind: 'admin', from: '管理员消息', text: 'two' });
    await first.close();
    const second = new InProcessRoomBus({ history });
    expect(await second.lastSeq('lobby')).toBe(2);
    expect(await second.publish('lobby', { kind: 'admin', from: '管理员消息', text: 'three' })).toMatchObject({ seq: 3 });
  });

  it('keeps working when the history store fails, and counts what was not written', async () => {
    const broken: HistoryStore = {
      lastSeq: async () => {
        throw new Error('disk on fire');
      },
      append: async () => {
        throw new Error('disk on fire');
      },
      range: async () => {
        throw new Error('disk on fire');
      },
    };
    const bus = new InProcessRoomBus({ history: broken });
    await bus.claim(member('a'), 'a');
    expect(await bus.publish('lobby', { kind: 'chat', from: 'a', text: 'still delivered' }, 'a')).toMatchObject({ seq: 1 });
    await bus.flushed();
    expect(bus.historyWriteFailures).toBe(1);
    expect((await bus.history('lobby', { limit: 10 })).messages).toHaveLength(1);
  });
});

describe.each(testDatabases)('chat history in the store: $label', (database) => {
  let fresh: FreshDatabase | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    await fresh?.drop();
    store = undefined;
    fresh = undefined;
  });

  it.skipIf(!database.available)('appends, numbers per room, reads ranges newest first, keeps Chinese and emoji', async () => {
    fresh = await database.fresh();
    store = await openStore({ dataDir: fresh.dataDir, url: fresh.url });
    const history = new SqlHistory(store);
    expect(await history.lastSeq('lobby')).toBe(0);
    const messages: ChatMessage[] = Array.from({ length: 1_200 }, (_, i) => ({ room: i % 2 ? 'lobby' : '厨房', seq: Math.floor(i / 2) + 1, kind: 'chat', from: '小明', text: `消息 ${i} 🌊`, time: 1_700_000_000_000 + i }));
    messages[1]!.cid = 'client-1';
    await history.append(messages);
    expect(await history.lastSeq('lobby')).toBe(600);
    expect(await history.lastSeq('厨房')).toBe(600);
    const page = await history.range('lobby', 10, 20, 5);
    expect(page.map((m) => m.seq)).toEqual([15, 16, 17, 18, 19]);
    expect(page[0]).toEqual({ room: 'lobby', seq: 15, kind: 'chat', from: '小明', text: '消息 29 🌊', time: 1_700_000_000_029 });
    expect((await history.range('lobby', 0, 2, 5))[0]).toMatchObject({ seq: 1, cid: 'client-1' });
  });

  it.skipIf(!database.available)('a (room, seq) already kept is skipped without costing the rest of its batch', async () => {
    fresh = await database.fresh();
    store = await openStore({ dataDir: fresh.dataDir, url: fresh.url });
    const history = new SqlHistory(store);
    const say = (seq: number, text: string): ChatMessage => ({ room: 'lobby', seq, kind: 'chat', from: 'ann', text, time: 1_700_000_000_000 + seq });
    await history.append([say(1, 'first')]);
    await history.append([say(1, 'first, again'), say(2, 'second'), say(2, 'second, again'), say(3, 'third')]);
    expect((await history.range('lobby', 0, 10, 10)).map((m) => [m.seq, m.text])).toEqual([
      [1, 'first'],
      [2, 'second'],
      [3, 'third'],
    ]);
  });
});
