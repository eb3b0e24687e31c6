import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHistory } from '../../../src/services/chat/history.js';
import { encodeFrame } from '../../../src/services/chat/protocol.js';
import { InProcessRoomBus, type HistoryPage, type HistoryQuery } from '../../../src/services/chat/room.js';
import { MAX_PENDING_REQUESTS } from '../../../src/services/chat/tcp-front-end.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { RawChat, sleep, startTestChat, stopAllChats } from './support.js';

/** A room whose history reads wait between `stall()` and `resume()`: a slow store. */
class GatedBus extends InProcessRoomBus {
  #gate: Promise<void> = Promise.resolve();
  resume: () => void = () => {};
  override close(): Promise<void> {
    this.resume();
    return super.close();
  }
  stall(): void {
    this.#gate = new Promise((resolve) => (this.resume = resolve));
  }
  override async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    await this.#gate;
    return super.history(room, query);
  }
}

const raws: RawChat[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await stopAllChats();
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

describe('chat over TCP: memory per connection is bounded', () => {
  it('stops reading a peer whose requests pile up behind a slow one, and reads on once they are served', async () => {
    const store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'wharf-chat-pending-')) });
    stores.push(store);
    await store.accounts.add('carol', 'right');
    // Three failures already: the next wrong password is answered after 4 s, and the
    // connection's later requests wait behind it.
    for (let i = 0; i < 3; i++) await store.accounts.verify('carol', 'wrong', '127.0.0.1');
    const { tcp, chat, ctx } = await startTestChat({ udp: false }, { resources: { store } });
    const peer = await RawChat.connect(tcp);
    raws.push(peer);
    peer.send({ type: 'hello', name: 'carol', password: 'wrong' });
    // 48 MiB of requests (each ~60 KiB, under the 64 KiB frame limit) behind the slow login.
    const frame = encodeFrame({ type: 'ping', id: 1, padding: 'x'.repeat(60_000) } as never);
    const frames = 800;
    for (let i = 0; i < frames; i++) peer.sendRaw(frame);
    // Let the server read what it will while the login waits (4 s).
    await sleep(1_500);
    const read = ctx.metrics.bytesIn;
    // The server holds at most MAX_PENDING_REQUESTS frames plus what one read brings (64 KiB).
    expect(read).toBeLessThan((MAX_PENDING_REQUESTS + 4) * frame.length);
    expect(chat.stats.tcp!.readPauses).toBeGreaterThanOrEqual(1);
    // Once the login is answered, every request is read and answered, in order.
    await peer.waitFor((f) => f.filter((x) => x.type === 'pong').length === frames, 20_000, 'every pong');
    expect(peer.of('error')).toMatchObject([{ code: 'auth-failed' }]);
  }, 30_000);

  it('holds at most maxCatchUp live messages for a member whose catch-up is slow to read, and tells it of the gap', async () => {
    const bus = new GatedBus({ history: new MemoryHistory({ maxPerRoom: 10_000 }) });
    const { tcp } = await startTestChat({ udp: false, maxCatchUp: 50, historyOnJoin: 5, ratePerSecond: 100_000, rateBurst: 100_000 }, { bus });
    const talker = await RawChat.connect(tcp);
    const late = await RawChat.connect(tcp);
    raws.push(talker, late);
    talker.send({ type: 'hello', name: 'talker' });
    await talker.waitFor((f) => f.some((x) => x.type === 'synced'));
    bus.stall();
    late.send({ type: 'hello', name: 'late' });
    await sleep(100);
    for (let i = 1; i <= 300; i++) talker.send({ type: 'say', text: `busy ${i}` });
    await talker.waitFor((f) => f.filter((x) => x.type === 'msg').length === 300, 10_000, 'the 300 messages');
    bus.resume();
    await late.waitFor((f) => f.some((x) => x.type === 'synced'), 10_000, 'synced');
    const seqs = late.of('msg').map((m) => m.seq as number);
    expect(seqs.length).toBeLessThanOrEqual(50);
    expect(seqs.at(-1)).toBe(300);
    expect(late.of('synced')).toMatchObject([{ gap: true, lastSeq: 300 }]);
  });

  it('drops a member whose private messages and presence pile up past maxWriteQueueBytes during a slow catch-up', async () => {
    const bus = new GatedBus({ history: new MemoryHistory({ maxPerRoom: 10_000 }) });
    const { tcp, chat } = await startTestChat({ udp: false, maxWriteQueueBytes: 256 * 1024, ratePerSecond: 100_000, rateBurst: 100_000 }, { bus });
    const talker = await RawChat.connect(tcp);
    const late = await RawChat.connect(tcp);
    raws.push(talker, late);
    talker.send({ type: 'hello', name: 'talker' });
    await talker.waitFor((f) => f.some((x) => x.type === 'synced'));
    bus.stall();
    late.send({ type: 'hello', name: 'late' });
    await sleep(100);
    for (let i = 1; i <= 100; i++) talker.send({ type: 'pm', to: 'late', text: `${i} ${'p'.repeat(4_000)}` });
    await late.waitClosed(10_000);
    expect(chat.stats.tcp!.slowDropped).toBe(1);
    bus.resume();
  });
});
