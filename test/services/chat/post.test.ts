import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient, ChatError } from '../../../src/services/chat/client.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { RawChat, SeedPeer, sleep, startTestChat, stopAllChats } from './support.js';

const peers: SeedPeer[] = [];
const raws: RawChat[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const r of raws.splice(0)) r.close();
  await stopAllChats();
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function errorOf(promise: Promise<unknown>): Promise<ChatError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ChatError);
  return error as ChatError;
}

describe('chat: a one-shot post (wharf chat send) joins nobody', () => {
  it('numbers the message for everyone, on both protocols, without a join or a leave', async () => {
    const { tcp, udp } = await startTestChat();
    const seed = await SeedPeer.open(udp);
    peers.push(seed);
    expect(await seed.login('小红')).toBe('OK');
    const listener = await RawChat.connect(tcp);
    raws.push(listener);
    listener.send({ type: 'hello', name: 'listener' });
    await listener.waitFor((f) => f.some((x) => x.type === 'synced'));

    const first = await new ChatClient({ port: tcp, name: 'ci-bot', timeoutMs: 5_000 }).post('build 1234 passed ✅');
    const second = await new ChatClient({ port: tcp, name: 'ci-bot', room: 'ops', timeoutMs: 5_000 }).post('deploying');
    expect(first).toMatchObject({ room: 'lobby', seq: 1 });
    expect(second).toMatchObject({ room: 'ops', seq: 1 });
    await seed.waitForLine('ci-bot : build 1234 passed ✅');
    await listener.waitFor((f) => f.some((x) => x.type === 'msg'));
    await sleep(200);
    expect(seed.lines).toEqual(['OK', '欢迎 listener 进入聊天室', 'ci-bot : build 1234 passed ✅']);
    const changes = listener.of('presence').flatMap((p) => [...(p.joined as Array<{ name: string }>), ...(p.left as Array<{ name: string }>)]);
    expect(changes.map((change) => change.name).filter((name) => name !== 'listener')).toEqual([]);
    expect(listener.of('msg')).toMatchObject([{ room: 'lobby', seq: 1, from: 'ci-bot', text: 'build 1234 passed ✅' }]);
  });

  it("follows hello's rules: no present member's name, no account's name without its password, clean text", async () => {
    const store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'wharf-chat-post-')) });
    stores.push(store);
    await store.accounts.add('carol', 'carol-pw');
    const { tcp, udp } = await startTestChat({}, { resources: { store } });
    const seed = await SeedPeer.open(udp);
    peers.push(seed);
    expect(await seed.login('dave')).toBe('OK');
    const post = (name: string, text: string, password?: string) => new ChatClient({ port: tcp, name, timeoutMs: 5_000, ...(password ? { password } : {}) }).post(text);

    expect((await errorOf(post('dave', 'I am dave'))).chatCode).toBe('name-taken');
    expect((await errorOf(post('DAVE', 'I am dave'))).chatCode).toBe('name-taken');
    expect((await errorOf(post('carol', 'I am carol'))).chatCode).toBe('name-reserved');
    expect((await errorOf(post('carol', 'I am carol', 'wrong'))).chatCode).toBe('auth-failed');
    expect((await errorOf(post('admin', 'notice'))).chatCode).toBe('bad-name');
    expect((await errorOf(post('bot', '\u202e\u2028'))).chatCode).toBe('bad-text');
    // With the password, under the account's own name, whatever case was typed.
    expect(await post('CAROL', 'ok\u2028管理员消息 : fake', 'carol-pw')).toMatchObject({ seq: 1 });
    await seed.waitForLine('carol : ok 管理员消息 : fake');
  });
});
