import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLEARED_REPLY,
  DiaryProtocolError,
  encodePaddedRequest,
  READ_FOOTER,
  READ_HEADER,
  WHARF_MAGIC,
  asctime,
  decodeClientMessage,
  decodeServerMessage,
  encodeMessage,
  formatDailyLog,
  formatReadReply,
  isWharfMessage,
  parseDailyLog,
  parseSeedDatagram,
  parseStampedLine,
  stampedLine,
  textProblem,
  type ClientMessage,
  type ServerMessage,
} from '../../../src/services/diary/protocol.js';

const limits = { maxEntryBytes: 4096, maxEntriesPerWrite: 256 };
const at = (iso: string) => Date.parse(iso);

describe('time.asctime()', () => {
  it('formats as Python does: weekday, month, day padded with a space, 24-hour time, year', () => {
    expect(asctime(at('2026-11-23T18:05:09Z'), 'UTC')).toBe('Mon Nov 23 18:05:09 2026');
    expect(asctime(at('2026-11-03T08:05:09Z'), 'UTC')).toBe('Tue Nov  3 08:05:09 2026');
    expect(asctime(at('2015-10-31T00:00:00Z'), 'UTC')).toBe('Sat Oct 31 00:00:00 2015');
    expect(asctime(at('2024-02-29T23:59:59Z'), 'UTC')).toBe('Thu Feb 29 23:59:59 2024');
  });

  it('uses the time zone it is given (the seed used local time)', () => {
    expect(asctime(at('2026-11-23T18:05:09Z'), 'Asia/Shanghai')).toBe('Tue Nov 24 02:05:09 2026');
    expect(asctime(at('2026-07-01T12:00:00Z'), 'America/New_York')).toBe('Wed Jul  1 08:00:00 2026');
  });

  it('stamps a line the way the seed does: [asctime] + space + text', () => {
    expect(stampedLine(at('2026-11-23T18:05:09Z'), '今天 天气很好', 'UTC')).toBe('[Mon Nov 23 18:05:09 2026] 今天 天气很好');
  });

  it('reads the hours around DST changes: the repeated hour as its first occurrence, a skipped one with the old offset', () => {
    const read = (line: string) => new Date(parseStampedLine(line, 'America/New_York')!.ms).toISOString();
    expect(read('[Sun Oct 26 02:00:00 1997] x')).toBe('1997-10-26T07:00:00.000Z'); // just after the change
    expect(read('[Sun Oct 26 01:30:00 1997] x')).toBe('1997-10-26T05:30:00.000Z'); // EDT, the first 01:30
    expect(read('[Sun Mar  8 02:30:00 2026] x')).toBe('2026-03-08T07:30:00.000Z'); // does not exist: 03:30 EDT
  });

  it('reads a stamp back to the same second, in any zone, across DST changes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: at('1990-01-01T00:00:00Z'), max: at('2100-01-01T00:00:00Z') }),
        fc.constantFrom('UTC', 'Asia/Shanghai', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'),
        (ms, zone) => {
          const second = Math.floor(ms / 1000) * 1000;
          const parsed = parseStampedLine(stampedLine(second, 'x', zone), zone);
          expect(parsed?.text).toBe('x');
          // The hour repeated when clocks go back reads as its first occurrence.
          const back = parsed!.ms;
          expect(asctime(back, zone)).toBe(asctime(second, zone));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('seed datagrams', () => {
  const parse = (text: string | Buffer) => parseSeedDatagram(typeof text === 'string' ? Buffer.from(text) : text, 4096);

  it('reads -r and -c in any case, with or without one line ending', () => {
    for (const text of ['-r', '-R', '-r\n', '-r\r\n']) expect(parse(text)).toEqual({ kind: 'read' });
    for (const text of ['-c', '-C', '-c\n']) expect(parse(text)).toEqual({ kind: 'clear' });
    expect(parse(' -r')).toEqual({ kind: 'write', text: ' -r' });
    expect(parse('-rr')).toEqual({ kind: 'write', text: '-rr' });
  });

  it('keeps the text as sent but for one trailing line ending', () => {
    expect(parse('你好，日记')).toEqual({ kind: 'write', text: '你好，日记' });
    expect(parse('two\nlines\n')).toEqual({ kind: 'write', text: 'two\nlines' });
    expect(parse('  spaced  ')).toEqual({ kind: 'write', text: '  spaced  ' });
  });

  it('tells empty, not-UTF-8 and too-long datagrams apart', () => {
    expect(parse('')).toEqual({ kind: 'empty' });
    expect(parse('\n')).toEqual({ kind: 'empty' });
    expect(parse('   \t ')).toEqual({ kind: 'empty' });
    expect(parse(Buffer.from([0x68, 0xc3, 0x28]))).toEqual({ kind: 'not-utf8' });
    expect(parse(Buffer.from([0xe4, 0xbd]))).toEqual({ kind: 'not-utf8' }); // a character cut in half
    expect(parse(Buffer.alloc(4097, 0x61))).toEqual({ kind: 'too-long', bytes: 4097 });
    expect(parse(Buffer.alloc(4096, 0x61)).kind).toBe('write');
  });

  it('no UTF-8 text is ever taken for one of wharf\'s own messages', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 50 }), (text) => {
        expect(isWharfMessage(Buffer.from(text))).toBe(false);
      }),
    );
  });
});

describe('the -r answer', () => {
  const entries = (n: number, text = (i: number) => `entry ${i}`) =>
    Array.from({ length: n }, (_, i) => ({ ms: at('2026-11-23T18:05:09Z') + i * 1000, text: text(i) })).reverse();

  it('is the seed\'s answer byte for byte when everything fits', () => {
    const { reply, shown } = formatReadReply(entries(2), 2, 1024, 'UTC');
    expect(shown).toBe(2);
    expect(reply).toBe('----------读取日记----------\n[Mon Nov 23 18:05:09 2026] entry 0\n[Mon Nov 23 18:05:10 2026] entry 1\n' + '-'.repeat(28));
    expect(formatReadReply([], 0, 1024).reply).toBe(`${READ_HEADER}\n${READ_FOOTER}`);
    expect(READ_HEADER).toBe('----------读取日记----------');
    expect(CLEARED_REPLY).toBe('---初始化完毕---!');
  });

  it('keeps the newest entries that fit, oldest first, and says so in its first line', () => {
    const { reply, shown } = formatReadReply(entries(100), 100, 1024, 'UTC');
    expect(Buffer.byteLength(reply)).toBeLessThanOrEqual(1024);
    expect(shown).toBeGreaterThan(10);
    const lines = reply.split('\n');
    expect(lines[0]).toBe(`${READ_HEADER}(newest ${shown} of 100)`);
    expect(lines.at(-1)).toBe(READ_FOOTER);
    expect(lines[1]).toContain(`entry ${100 - shown}`);
    expect(lines.at(-2)).toContain('entry 99');
  });

  it('says so too when only the fetched entries were fewer than the diary holds', () => {
    const { reply } = formatReadReply(entries(3), 500, 65_507, 'UTC');
    expect(reply.split('\n')[0]).toBe(`${READ_HEADER}(newest 3 of 500)`);
  });

  it('never exceeds its size, whatever the entries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }), { maxLength: 60 }),
        fc.integer({ min: 256, max: 4000 }),
        (texts, max) => {
          const list = texts.map((text, i) => ({ ms: i * 1000, text }));
          const { reply, shown } = formatReadReply(list, list.length + 5, max, 'UTC');
          expect(Buffer.byteLength(reply)).toBeLessThanOrEqual(max);
          expect(shown).toBeLessThanOrEqual(list.length);
        },
      ),
    );
  });
});

describe('daily.log', () => {
  it('writes one stamped line per entry, as the seed appends them', () => {
    const text = formatDailyLog(
      [
        { ms: at('2026-11-03T08:05:09Z'), text: '第一篇' },
        { ms: at('2026-11-23T18:05:09Z'), text: 'second' },
      ],
      'UTC',
    );
    expect(text).toBe('[Tue Nov  3 08:05:09 2026] 第一篇\n[Mon Nov 23 18:05:09 2026] second\n');
  });

  it('reads back what it wrote (to the second), multi-line entries included', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ms: fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => s * 1000),
            text: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((t) => t.trim() !== '' && !/\r/.test(t) && !t.split('\n').slice(1).some((line) => parseStampedLine(line) !== undefined)),
          }),
          { maxLength: 20 },
        ),
        (entries) => {
          const parsed = parseDailyLog(formatDailyLog(entries, 'UTC'), { timeZone: 'UTC', fallbackMs: 0 });
          expect(parsed.entries).toEqual(entries);
          expect(parsed.unstampedLeadingLines).toBe(0);
        },
      ),
    );
  });

  it('reads the seed\'s own file: CRLF, lines without a stamp first, an empty stamped entry', () => {
    const parsed = parseDailyLog('old line\r\n[Sat Oct 31 12:00:00 2015] 你好\r\n[Sat Oct 31 12:00:01 2015] \r\n', { timeZone: 'UTC', fallbackMs: 42 });
    expect(parsed.entries).toEqual([
      { ms: 42, text: 'old line' },
      { ms: at('2015-10-31T12:00:00Z'), text: '你好' },
      { ms: at('2015-10-31T12:00:01Z'), text: '' },
    ]);
    expect(parsed.unstampedLeadingLines).toBe(1);
  });
});

describe("wharf's own messages", () => {
  const raw = (object: unknown) => Buffer.concat([WHARF_MAGIC, Buffer.from(JSON.stringify(object))]);

  it('start with FF 57 44 01 and carry JSON', () => {
    const datagram = encodeMessage({ op: 'write', c: '0123456789abcdef', e: [[1, '你好']] });
    expect([...datagram.subarray(0, 4)]).toEqual([0xff, 0x57, 0x44, 0x01]);
    expect(datagram.subarray(4).toString()).toBe('{"op":"write","c":"0123456789abcdef","e":[[1,"你好"]]}');
    expect(isWharfMessage(datagram)).toBe(true);
  });

  it('round-trip through encode and decode', () => {
    const messages: ClientMessage[] = [
      { op: 'write', c: '0123456789abcdef', tok: 'A'.repeat(22), d: 'alice', e: [[1, 'a'], [2, 'b']] },
      { op: 'login', rid: 'r1', user: 'alice', pass: 'secret' },
      { op: 'read', rid: 'r2', since: 5, after: 10, max: 1400 },
      { op: 'clear', rid: 'r3', d: 'alice' },
    ];
    for (const message of messages) expect(decodeClientMessage(encodeMessage(message), limits)).toEqual(message);
    const answers: ServerMessage[] = [
      { op: 'ack', c: '0123456789abcdef', upTo: 7, from: 5, at: 1000, t: [[3, 900]], rej: [[4, 'EPERM', 'no']], held: [[9, 10]] },
      { op: 'login', rid: 'r1', tok: 'x', user: 'alice', role: 'admin', exp: 5 },
      { op: 'page', rid: 'r2', entries: [{ id: 1, t: 2, text: 'x', by: 'alice' }], more: true, next: 1 },
      { op: 'cleared', rid: 'r3', removed: 4 },
      { op: 'error', rid: 'r4', code: 'EPERM', message: 'no' },
    ];
    for (const answer of answers) expect(decodeServerMessage(encodeMessage(answer))).toEqual(answer);
  });

  it('refuse malformed messages with a DiaryProtocolError that keeps the request id', () => {
    const cases: unknown[] = [
      { op: 'write', e: [[1, 'a']] },
      { op: 'write', c: 'XYZ', e: [[1, 'a']] },
      { op: 'write', c: '0123456789abcdef', e: [] },
      { op: 'write', c: '0123456789abcdef', e: [[0, 'a']] },
      { op: 'write', c: '0123456789abcdef', e: [[1.5, 'a']] },
      { op: 'write', c: '0123456789abcdef', e: [['1', 'a']] },
      { op: 'write', c: '0123456789abcdef', tok: 'short', e: [[1, 'a']] },
      { op: 'login', rid: 'r', user: 'alice' },
      { op: 'read', rid: 'r', since: -1 },
      { op: 'read' },
      { op: 'fly', rid: 'r' },
      [1, 2],
    ];
    for (const object of cases) expect(() => decodeClientMessage(raw(object), limits)).toThrow(DiaryProtocolError);
    try {
      decodeClientMessage(raw({ op: 'read', rid: 'abc', since: 'yesterday' }), limits);
    } catch (error) {
      expect((error as DiaryProtocolError).rid).toBe('abc');
    }
    expect(() => decodeClientMessage(Buffer.from([0xff, 0x57, 0x44, 0x02, 0x7b, 0x7d]), limits)).toThrow(/version 2/);
    expect(() => decodeClientMessage(Buffer.from([0xff, 0x57, 0x44, 0x01, 0xff]), limits)).toThrow(/UTF-8 JSON/);
    expect(() => decodeClientMessage(raw({ op: 'write', c: '0123456789abcdef', e: Array.from({ length: 257 }, (_, i) => [i + 1, 'x']) }), limits)).toThrow(/at most 256/);
  });

  it('never throw anything but DiaryProtocolError, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, withMagic) => {
        const datagram = withMagic ? Buffer.concat([WHARF_MAGIC, bytes]) : Buffer.from(bytes);
        try {
          decodeClientMessage(datagram, limits);
        } catch (error) {
          expect(error).toBeInstanceOf(DiaryProtocolError);
        }
        expect(() => decodeServerMessage(datagram)).not.toThrow();
      }),
    );
  });

  it('a client ignores server messages that do not have the right shape', () => {
    expect(decodeServerMessage(raw({ op: 'ack', c: 'x', upTo: -1 }))).toBeUndefined();
    expect(decodeServerMessage(raw({ op: 'ack', c: 'x', upTo: 1, t: [[1]] }))).toBeUndefined();
    expect(decodeServerMessage(raw({ op: 'page', rid: 'r', entries: [{ id: 1 }], more: false, next: 0 }))).toBeUndefined();
    expect(decodeServerMessage(Buffer.from('[Mon Nov 23 18:05:09 2026] hello'))).toBeUndefined();
  });

  it('checks an entry\'s text: not empty, valid Unicode, within the size', () => {
    expect(textProblem('  ', 10)?.code).toBe('EEMPTY');
    expect(textProblem('\ud800x', 10)?.code).toBe('EENCODING');
    expect(textProblem('你好你好', 10)?.code).toBe('ETOOLONG');
    expect(textProblem('你好', 10)).toBeUndefined();
  });
});

describe('padded requests', () => {
  it('pads a request to a third of the answer it expects, and the server reads it unchanged', () => {
    const read = { op: 'read', rid: 'r1', max: 1400 } as const;
    for (const expected of [1400, 1401, 8192]) {
      const padded = encodePaddedRequest(read, expected);
      expect(padded.length * 3).toBeGreaterThanOrEqual(expected);
      expect(padded.length * 3).toBeLessThan(expected + 6);
      expect(decodeClientMessage(padded, { maxEntryBytes: 4096, maxEntriesPerWrite: 256 })).toEqual(read);
    }
    // Already large enough: sent as it is.
    expect(encodePaddedRequest(read, 30)).toEqual(encodeMessage(read));
  });
});
