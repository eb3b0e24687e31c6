/** The portal chat's messages (portal/messages.ts): the page's parser, its room log and its typed lines. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RoomLog, parsePortalClientMessage, parseTypedLine, reconnectDelayMs, utf8Length, type PortalChatMessage } from '../../../src/services/chat/portal/messages.js';

const message = (seq: number, room = 'lobby'): PortalChatMessage => ({ room, seq, kind: 'chat', from: 'a', text: `m${seq}`, time: seq });

describe('portal chat: parsing what a page sends', () => {
  it('reads each kind of message and keeps only the known fields', () => {
    expect(parsePortalClientMessage('{"type":"join","room":"厨房","since":4,"extra":1}', 1000)).toEqual({ ok: true, message: { type: 'join', room: '厨房', since: 4 } });
    expect(parsePortalClientMessage('{"type":"say","id":2,"text":"hi 👋","cid":"x"}', 1000)).toEqual({ ok: true, message: { type: 'say', id: 2, text: 'hi 👋', cid: 'x' } });
    expect(parsePortalClientMessage('{"type":"pm","to":"bob","text":"psst"}', 1000)).toEqual({ ok: true, message: { type: 'pm', to: 'bob', text: 'psst' } });
    expect(parsePortalClientMessage('{"type":"history","before":10,"limit":5}', 1000)).toEqual({ ok: true, message: { type: 'history', before: 10, limit: 5 } });
    for (const type of ['who', 'rooms', 'ping']) expect(parsePortalClientMessage(JSON.stringify({ type, id: 1 }), 1000)).toEqual({ ok: true, message: { type, id: 1 } });
  });

  it('refuses what is not one of them, with a sentence', () => {
    const refused = (text: string, max = 1000) => {
      const result = parsePortalClientMessage(text, max);
      expect(result.ok, text).toBe(false);
      return result.ok ? '' : result.message;
    };
    expect(refused('nope')).toBe('a message is a JSON object');
    expect(refused('[1]')).toBe('a message is a JSON object');
    expect(refused('null')).toBe('a message is a JSON object');
    expect(refused('{"type":"fly"}')).toBe('unknown message type "fly"');
    expect(refused('{}')).toBe('a message needs a "type"');
    expect(refused('{"type":"join","room":7}')).toContain('"room"');
    expect(refused(`{"type":"join","room":"${'r'.repeat(300)}"}`)).toContain('"room"');
    expect(refused('{"type":"join","room":"a","since":-1}')).toContain('"since"');
    expect(refused('{"type":"join","room":"a","since":1.5}')).toContain('"since"');
    expect(refused('{"type":"say"}')).toContain('"text"');
    expect(refused('{"type":"say","text":"a","id":"1"}')).toContain('"id"');
    expect(refused('{"type":"history","before":3,"limit":0}')).toContain('"limit"');
    expect(refused(JSON.stringify({ type: 'say', text: '字'.repeat(400) }), 1000)).toBe('a message is at most 1000 bytes');
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ type: 'say', text: v }))), (text) => {
        const result = parsePortalClientMessage(text, 10_000);
        expect(typeof result.ok).toBe('boolean');
      }),
    );
  });

  it('counts UTF-8 bytes as the server does', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(utf8Length(text)).toBe(Buffer.byteLength(text));
      }));
    expect(utf8Length('\ud800')).toBe(3);
  });
});

describe('portal chat: the page keeps each message once', () => {
  it('adds in order, skips repeats, and remembers the last number', () => {
    const log = new RoomLog(5);
    expect(log.last).toBeUndefined();
    log.known(0);
    expect(log.last).toBe(0);
    expect(log.add(message(1))).toBe(0);
    expect(log.add(message(2))).toBe(1);
    expect(log.add(message(2))).toBe(-1);
    expect(log.add(message(1))).toBe(-1);
    log.known(9);
    expect(log.last).toBe(9);
  });

  it('whatever the order and repeats of a catch-up and the live stream, shows each message once, in order, the newest kept', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }), fc.integer({ min: 1, max: 30 }), (seqs, max) => {
        const log = new RoomLog(max);
        for (const seq of seqs) log.add(message(seq));
        const shown = log.messages.map((m) => m.seq);
        expect(shown).toEqual([...new Set(shown)].sort((a, b) => a - b));
        expect(shown.length).toBeLessThanOrEqual(max);
        if (seqs.length > 0) expect(log.last).toBe(Math.max(...seqs));
        for (const seq of shown) expect(log.has(seq)).toBe(true);
      }),
    );
  });
});

describe('portal chat: what a typed line means', () => {
  it('reads /msg, /join, //, /help and plain text', () => {
    expect(parseTypedLine('hello')).toEqual({ kind: 'say', text: 'hello' });
    expect(parseTypedLine('  ')).toEqual({ kind: 'empty' });
    expect(parseTypedLine('/msg 小红 你好 世界')).toEqual({ kind: 'pm', to: '小红', text: '你好 世界' });
    expect(parseTypedLine('/MSG bob hi')).toEqual({ kind: 'pm', to: 'bob', text: 'hi' });
    expect(parseTypedLine('/msg bob')).toEqual({ kind: 'unknown', command: '/msg' });
    expect(parseTypedLine('/join 厨房')).toEqual({ kind: 'join', room: '厨房' });
    expect(parseTypedLine('//shrug')).toEqual({ kind: 'say', text: '/shrug' });
    expect(parseTypedLine('/help')).toEqual({ kind: 'help' });
    expect(parseTypedLine('/dance')).toEqual({ kind: 'unknown', command: '/dance' });
  });

  it('waits longer after each failed reconnect, up to 30 s', () => {
    expect(reconnectDelayMs(0, () => 0)).toBe(250);
    expect(reconnectDelayMs(0, () => 1)).toBe(500);
    expect(reconnectDelayMs(3, () => 1)).toBe(4_000);
    expect(reconnectDelayMs(50, () => 1)).toBe(30_000);
  });
});
