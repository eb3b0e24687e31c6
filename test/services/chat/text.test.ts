import { afterEach, describe, expect, it } from 'vitest';
import { cleanText, formatSeedChat, nameProblem, textProblem } from '../../../src/services/chat/protocol.js';
import { RawChat, SeedPeer, startTestChat, stopAllChats } from './support.js';

const peers: SeedPeer[] = [];
const raws: RawChat[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const r of raws.splice(0)) r.close();
  await stopAllChats();
});

/** A line that, shown as it was sent, would look like the console's notice on a line of its own. */
const FAKE_NOTICE_LINE = 'ok\u2028管理员消息 : the server restarts, log in again at evil.example';
/** A right-to-left override: `bob : \u202e…` shown reversed, so the line reads like another's. */
const REVERSED = '\u202eneddih\u202c and \u2066isolated\u2069 \u200ftext\u200e';

describe('chat text: one rule on every transport', () => {
  it('cleanText: separators become spaces, format characters go, writing keeps what it needs', () => {
    expect(cleanText(FAKE_NOTICE_LINE)).toBe('ok 管理员消息 : the server restarts, log in again at evil.example');
    expect(cleanText(REVERSED)).toBe('neddih and isolated text');
    expect(cleanText('zero\u200bwidth\ufeff soft\u00adhyphen \u2060joiner')).toBe('zerowidth softhyphen joiner');
    // Emoji sequences: ZWJ between pictographs (after a skin tone or VS16 too), tag flags, keycaps.
    for (const emoji of ['👩‍💻', '👨‍👩‍👧‍👦', '🏳️‍🌈', '❤️‍🔥', '👩🏽‍🚀', '🏴󠁧󠁢󠁥󠁮󠁧󠁿', '1️⃣', '🇨🇳']) expect(cleanText(`hi ${emoji}!`), emoji).toBe(`hi ${emoji}!`);
    // Scripts: ZWNJ in Persian, ZWJ in Devanagari; combining marks; Chinese.
    for (const text of ['می‌خواهم', 'क्‍ष', 'e\u0301te\u0301', '你好，世界', 'Zoë']) expect(cleanText(text), text).toBe(text);
    // A joiner or tag out of place is removed.
    expect(cleanText('\u200d👩 a\u200d b \u{e0067}x')).toBe('👩 a b x');
    expect(cleanText('plain text stays the same object')).toBe('plain text stays the same object');
  });

  it('names: refused, not cleaned, when they hide characters or pose as the system, in any case or form', () => {
    for (const bad of ['ali\u200bce', 'a\u2028b', 'ㅤ', 'x\u3164y', 'admin', 'Admin', 'ＡＤＭＩＮ', 'root', 'System', '管理员消息', '⽂管理', '系统消息']) {
      expect(nameProblem(bad), JSON.stringify(bad)).toBeDefined();
    }
    for (const good of ['alice', '小明', 'bob😀', 'Zoë', 'adminton']) expect(nameProblem(good), good).toBeUndefined();
    expect(textProblem(cleanText('\u202e\u200b'), 100)).toBe('the message is empty');
  });

  it('a seed member and a TCP member cannot reorder a line or start a fake notice line; both kinds of member get the clean text', async () => {
    const { udp, tcp } = await startTestChat();
    const mallory = await SeedPeer.open(udp);
    const alice = await SeedPeer.open(udp);
    peers.push(mallory, alice);
    expect(await mallory.login('mallory')).toBe('OK');
    expect(await alice.login('alice')).toBe('OK');
    const bob = await RawChat.connect(tcp);
    raws.push(bob);
    bob.send({ type: 'hello', name: 'bob' });
    await bob.waitFor((f) => f.some((x) => x.type === 'synced'));

    mallory.send(`C mallory ${FAKE_NOTICE_LINE}`);
    mallory.send(`C mallory ${REVERSED}`);
    const expected = [cleanText(FAKE_NOTICE_LINE), 'neddih and isolated text'];
    for (const text of expected) await alice.waitForLine(formatSeedChat('mallory', text));
    await bob.waitFor((f) => f.filter((x) => x.type === 'msg').length >= 2);
    expect(bob.of('msg').map((m) => m.text)).toEqual(expected);

    bob.send({ type: 'say', text: `👩‍💻 ${FAKE_NOTICE_LINE}` });
    bob.send({ type: 'pm', to: 'alice', text: `\u202e${REVERSED}` });
    await alice.waitForLine(formatSeedChat('bob', `👩‍💻 ${cleanText(FAKE_NOTICE_LINE)}`));
    await alice.waitForLine('bob (私聊) : neddih and isolated text');
    for (const line of [...alice.lines, ...mallory.lines]) expect(line, line).not.toMatch(/[\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f]/u);
  });

  it('a name is one member whatever its case: Alice cannot join while alice is here, on either transport', async () => {
    const { udp, tcp } = await startTestChat();
    const alice = await SeedPeer.open(udp);
    const other = await SeedPeer.open(udp);
    peers.push(alice, other);
    expect(await alice.login('alice')).toBe('OK');
    expect(await other.login('Alice')).toBe('FAIL');
    expect(await other.login('ａｌｉｃｅ')).toBe('FAIL');
    expect(await other.login('ADMIN')).toBe('FAIL');
    const raw = await RawChat.connect(tcp);
    raws.push(raw);
    raw.send({ type: 'hello', name: 'ALICE' });
    await raw.waitFor((f) => f.some((x) => x.type === 'error'));
    expect(raw.of('error')[0]).toMatchObject({ code: 'name-taken' });
  });
});
