import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SequenceTracker,
  decodeClientFrame,
  decodeServerFrame,
  encodeFrame,
  formatSeedAdmin,
  formatSeedChat,
  formatSeedLeft,
  formatSeedPresence,
  formatSeedWelcome,
  mergeCatchUp,
  nameProblem,
  parseSeedDatagram,
  roomProblem,
  selectRange,
  splitSeedFields,
  textProblem,
  type ChatMessage,
} from '../../../src/services/chat/protocol.js';

/** Python's str.split(' ', 2), written the obvious way, as the reference. */
function pythonSplit(text: string): string[] {
  const parts = text.split(' ');
  return parts.length <= 3 ? parts : [parts[0]!, parts[1]!, parts.slice(2).join(' ')];
}

const message = (seq: number, room = 'lobby'): ChatMessage => ({ room, seq, kind: 'chat', from: 'a', text: `m${seq}`, time: 0 });

describe('chat protocol: seed datagrams', () => {
  it('splits on the first two spaces exactly as the seed\'s split(\' \', 2)', () => {
    expect(splitSeedFields('C bob hello  world ')).toEqual(['C', 'bob', 'hello  world ']);
    expect(splitSeedFields('L  bob')).toEqual(['L', '', 'bob']);
    expect(splitSeedFields('E')).toEqual(['E']);
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', ' ', 'é', '中') }), (text) => {
      expect(splitSeedFields(text)).toEqual(pythonSplit(text));
    }));
  });

  it('parses L, C and E; C keeps every space of the text', () => {
    expect(parseSeedDatagram(Buffer.from('L 小明'))).toEqual({ ok: true, request: { kind: 'login', name: '小明' } });
    expect(parseSeedDatagram(Buffer.from('C 小明 你好 世界 🌍'))).toEqual({ ok: true, request: { kind: 'chat', name: '小明', text: '你好 世界 🌍' } });
    expect(parseSeedDatagram(Buffer.from('E 小明'))).toEqual({ ok: true, request: { kind: 'exit', name: '小明' } });
    // The name of L and E is the rest of the datagram, so a name with a space is seen (and refused).
    expect(parseSeedDatagram(Buffer.from('L two words'))).toEqual({ ok: true, request: { kind: 'login', name: 'two words' } });
    expect(parseSeedDatagram(Buffer.from('C bob '))).toEqual({ ok: true, request: { kind: 'chat', name: 'bob', text: '' } });
  });

  it('ignores one trailing line ending (nc -u)', () => {
    expect(parseSeedDatagram(Buffer.from('L bob\n'))).toEqual({ ok: true, request: { kind: 'login', name: 'bob' } });
    expect(parseSeedDatagram(Buffer.from('C bob hi\r\n'))).toEqual({ ok: true, request: { kind: 'chat', name: 'bob', text: 'hi' } });
  });

  it('refuses empty, non-UTF-8, unknown and incomplete datagrams', () => {
    expect(parseSeedDatagram(Buffer.alloc(0))).toEqual({ ok: false, reason: 'empty' });
    expect(parseSeedDatagram(Buffer.from([0x4c, 0x20, 0xff]))).toEqual({ ok: false, reason: 'not-utf8' });
    expect(parseSeedDatagram(Buffer.from([0x4c, 0x20, 0xed, 0xa0, 0x80]))).toEqual({ ok: false, reason: 'not-utf8' }); // a surrogate
    expect(parseSeedDatagram(Buffer.from('Q bob'))).toEqual({ ok: false, reason: 'unknown-command' });
    expect(parseSeedDatagram(Buffer.from('C bob'))).toEqual({ ok: false, reason: 'missing-field' });
    expect(parseSeedDatagram(Buffer.from('L'))).toEqual({ ok: false, reason: 'missing-field' });
    expect(parseSeedDatagram(Buffer.from('\n'))).toEqual({ ok: false, reason: 'empty' });
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const result = parseSeedDatagram(bytes);
      expect(typeof result.ok).toBe('boolean');
    }));
  });

  it('formats exactly the seed\'s lines', () => {
    expect(formatSeedChat('bob', 'hi')).toBe('bob : hi');
    expect(formatSeedAdmin('注意')).toBe('管理员消息 : 注意');
    expect(formatSeedWelcome(['bob'])).toBe('欢迎 bob 进入聊天室');
    expect(formatSeedLeft(['bob'])).toBe('bob 退出了群聊');
    expect(formatSeedWelcome(['a', 'b'])).toBe('欢迎 a、b 进入聊天室');
  });

  it('splits a crowd\'s presence into lines of bounded size that name everyone once', () => {
    fc.assert(fc.property(fc.array(fc.string({ minLength: 1, maxLength: 64, unit: fc.constantFrom('a', '中', '😀') }), { minLength: 1, maxLength: 300 }), (names) => {
      const lines = formatSeedPresence('join', names, 'left', 1024);
      for (const line of lines) {
        const single = line === formatSeedWelcome([line.slice(3, -6)]);
        expect(Buffer.byteLength(line) <= 1024 || single).toBe(true);
      }
      expect(lines.flatMap((l) => l.slice(3, -6).split('、'))).toEqual(names);
    }));
  });
});

describe('chat protocol: names and text', () => {
  it('accepts Chinese and emoji names, refuses spaces, controls, bidi tricks, 管理 and long names', () => {
    expect(nameProblem('小明')).toBeUndefined();
    expect(nameProblem('bob😀')).toBeUndefined();
    for (const bad of ['', 'a b', 'a\tb', 'a\u0000', 'a\u007f', 'a\u202eb', 'a\u200bb', 'a\u3000b', '管理', 'x管理y', 'x'.repeat(65)]) {
      expect(nameProblem(bad), JSON.stringify(bad)).toBeDefined();
    }
    expect(nameProblem('é'.repeat(64))).toBeUndefined();
    expect(roomProblem('管理')).toBeUndefined(); // only names are reserved
    expect(roomProblem('a b')).toBeDefined();
  });

  it('text: not empty, not too long, no control characters other than tab', () => {
    expect(textProblem('你好\tworld 🌍', 100)).toBeUndefined();
    expect(textProblem('   ', 100)).toBeDefined();
    expect(textProblem('中'.repeat(34), 100)).toBeDefined(); // 102 bytes
    expect(textProblem('a\nb', 100)).toBeDefined();
    expect(textProblem('\u001b[2J', 100)).toBeDefined();
    expect(textProblem('\u0085', 100)).toBeDefined();
  });
});

describe('chat protocol: frames', () => {
  it('round-trips client and server frames; the length prefix counts UTF-8 bytes', () => {
    const frame = encodeFrame({ type: 'say', text: '你好 🌊' });
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    expect(decodeClientFrame(frame.subarray(4))).toEqual({ ok: true, frame: { type: 'say', text: '你好 🌊' } });
    const msg = encodeFrame({ type: 'msg', room: 'lobby', seq: 3, kind: 'chat', from: 'a', text: 'x', time: 1 });
    expect(decodeServerFrame(msg.subarray(4))).toEqual({ ok: true, frame: { type: 'msg', room: 'lobby', seq: 3, kind: 'chat', from: 'a', text: 'x', time: 1 } });
  });

  it('refuses bad JSON, unknown types and wrong fields with a reason', () => {
    expect(decodeClientFrame(Buffer.from('{'))).toMatchObject({ ok: false, message: 'the frame is not valid JSON' });
    expect(decodeClientFrame(Buffer.from([0xff]))).toMatchObject({ ok: false, message: 'the frame is not valid UTF-8' });
    expect(decodeClientFrame(Buffer.from('{"type":"fly"}'))).toMatchObject({ ok: false });
    expect(decodeClientFrame(Buffer.from('{"type":"say","text":5}'))).toMatchObject({ ok: false });
    expect(decodeClientFrame(Buffer.from('[1,2]'))).toMatchObject({ ok: false });
    expect(decodeClientFrame(Buffer.from('{"type":"hello","name":"a","since":-1}'))).toMatchObject({ ok: false });
    // Unknown fields are ignored: a newer client may send more.
    expect(decodeClientFrame(Buffer.from('{"type":"who","colour":"blue"}'))).toEqual({ ok: true, frame: { type: 'who' } });
  });

  it('never throws on any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      expect(typeof decodeClientFrame(bytes).ok).toBe('boolean');
      expect(typeof decodeServerFrame(bytes).ok).toBe('boolean');
    }));
  });
});

describe('chat protocol: sequence numbers and catch-up', () => {
  it('mergeCatchUp: ascending, each number once, only after `since`, whatever the overlap', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 50 }), fc.array(fc.integer({ min: 1, max: 100 })), fc.array(fc.integer({ min: 1, max: 100 })), (since, a, b) => {
      const merged = mergeCatchUp(since, a.map((n) => message(n)), b.map((n) => message(n)));
      const expected = [...new Set([...a, ...b])].filter((n) => n > since).sort((x, y) => x - y);
      expect(merged.map((m) => m.seq)).toEqual(expected);
    }));
  });

  it('selectRange: the newest `limit` messages strictly between after and before', () => {
    const list = [1, 2, 3, 4, 5, 6].map((n) => message(n));
    expect(selectRange(list, 0, 100, 3).map((m) => m.seq)).toEqual([4, 5, 6]);
    expect(selectRange(list, 2, 5, 10).map((m) => m.seq)).toEqual([3, 4]);
    expect(selectRange(list, 6, 100, 10)).toEqual([]);
  });

  it('SequenceTracker shows each message once per room, across any replay', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 1, max: 30 }))), (arrivals) => {
      const tracker = new SequenceTracker();
      const shown: string[] = [];
      for (const [room, seq] of arrivals) if (tracker.accept({ room, seq })) shown.push(`${room}${seq}`);
      expect(new Set(shown).size).toBe(shown.length);
      for (const room of ['a', 'b']) {
        const seqs = shown.filter((s) => s.startsWith(room)).map((s) => Number(s.slice(1)));
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
    }));
    const tracker = new SequenceTracker();
    tracker.known('lobby', 10);
    expect(tracker.accept({ room: 'lobby', seq: 10 })).toBe(false);
    expect(tracker.accept({ room: 'lobby', seq: 11 })).toBe(true);
    expect(tracker.last('lobby')).toBe(11);
  });
});
