import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../src/services/chat/protocol.js';
import { MAX_PENDING_REQUESTS } from '../../../src/services/chat/tcp-front-end.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { RawChat, sleep, startTestChat, stopAllChats } from './support.js';

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
});
