import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CodecError,
  FrameFormatError,
  FrameTooLargeError,
  LineDecoder,
  LineEncoder,
  TruncatedFrameError,
  Utf8StreamDecoder,
} from '../../src/codec/index.js';
import type { LineDecoderOptions, LineOutput } from '../../src/codec/index.js';
import { arbitraryCuts, decodeChunks, everyDoubleSplit, everySingleSplit, oneByteAtATime, splitAt } from './support.js';

type Event = ['line', string] | ['discard', number];

interface Run {
  events: Event[];
  error?: string;
}

/** Decodes the chunks, recording lines and discards in one ordered list (Buffer lines as hex). */
function run<O extends LineOutput>(options: LineDecoderOptions<O>, chunks: readonly Buffer[]): Run {
  const events: Event[] = [];
  const decoder = new LineDecoder<O>({ ...options, onDiscard: (bytes) => events.push(['discard', bytes]) });
  const onFrame = (frame: string | Buffer): void => {
    events.push(['line', typeof frame === 'string' ? frame : `hex:${frame.toString('hex')}`]);
  };
  try {
    for (const chunk of chunks) decoder.push(chunk, onFrame);
    decoder.end(onFrame);
  } catch (error) {
    if (error instanceof CodecError) return { events, error: error.code };
    throw error;
  }
  return { events };
}

/**
 * The specification, written the naive way: the whole input at once, split with indexOf. The
 * streaming decoder must agree with it however the input is chunked.
 */
function reference(options: LineDecoderOptions<LineOutput>, input: Buffer): Run {
  const delimiter = Buffer.from(options.delimiter ?? '\n');
  const max = options.maxLineBytes;
  const strip = (options.stripCarriageReturn ?? true) && delimiter.equals(Buffer.from('\n'));
  const discard = options.onTooLong === 'discard';
  const asText = (bytes: Buffer): string => (options.output === 'buffer' ? `hex:${bytes.toString('hex')}` : bytes.toString('utf8'));
  const content = (raw: Buffer): Buffer => (strip && raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, -1) : raw);
  const events: Event[] = [];
  let start = 0;
  let index: number;
  while ((index = input.indexOf(delimiter, start)) >= 0) {
    const raw = input.subarray(start, index);
    const line = content(raw);
    if (line.length > max) {
      if (!discard) return { events, error: 'EFRAMETOOLARGE' };
      events.push(['discard', raw.length]);
    } else {
      events.push(['line', asText(line)]);
    }
    start = index + delimiter.length;
  }
  const tail = input.subarray(start);
  if (tail.length === 0) return { events };
  // An unterminated line is refused once it can no longer fit: it may still end with the start of
  // a delimiter or a '\r' to strip.
  const slack = Math.max(delimiter.length - 1, strip ? 1 : 0);
  if (tail.length > max + slack) {
    if (!discard) return { events, error: 'EFRAMETOOLARGE' };
    events.push(['discard', tail.length]);
    return { events };
  }
  if (!options.emitPartialAtEnd) return { events, error: 'ETRUNCATED' };
  const line = content(tail);
  if (line.length > max) {
    if (!discard) return { events, error: 'EFRAMETOOLARGE' };
    events.push(['discard', tail.length]);
  } else {
    events.push(['line', asText(line)]);
  }
  return { events };
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('LineDecoder', () => {
  it('splits lines on \\n, strips a \\r before it, and keeps empty lines', () => {
    expect(run({ maxLineBytes: 100 }, [bytes('one\ntwo\r\n\nthree\n')])).toEqual({
      events: [['line', 'one'], ['line', 'two'], ['line', ''], ['line', 'three']],
    });
  });

  it('keeps the \\r when stripCarriageReturn is false', () => {
    expect(run({ maxLineBytes: 100, stripCarriageReturn: false }, [bytes('a\r\n')]).events).toEqual([['line', 'a\r']]);
  });

  it('only strips \\r for the \\n delimiter', () => {
    expect(run({ maxLineBytes: 100, delimiter: '##' }, [bytes('a\r##')]).events).toEqual([['line', 'a\r']]);
  });

  it('strips a \\r that arrived in the chunk before the \\n', () => {
    expect(run({ maxLineBytes: 100 }, [bytes('abc\r'), bytes('\n')]).events).toEqual([['line', 'abc']]);
    expect(run({ maxLineBytes: 100 }, [bytes('ab'), bytes('c\r\nd\r'), bytes('\ne\n')]).events).toEqual([
      ['line', 'abc'],
      ['line', 'd'],
      ['line', 'e'],
    ]);
  });

  it('emits two lines that arrive in one chunk, then a line that spans three chunks', () => {
    const lines: string[] = [];
    const decoder = new LineDecoder({ maxLineBytes: 100 });
    decoder.push(bytes('first\nsecond\nthi'), (line) => lines.push(line));
    expect(lines).toEqual(['first', 'second']);
    expect(decoder.bufferedBytes).toBe(3);
    decoder.push(bytes('r'), (line) => lines.push(line));
    decoder.push(bytes('d\n'), (line) => lines.push(line));
    expect(lines).toEqual(['first', 'second', 'third']);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("splits on the seed FTP's '##' marker, also when the marker is split across chunks", () => {
    const input = bytes('OK##file one##a#b##');
    const expected = [['line', 'OK'], ['line', 'file one'], ['line', 'a#b']];
    for (const chunks of everyDoubleSplit(input)) {
      expect(run({ maxLineBytes: 100, delimiter: '##' }, chunks).events).toEqual(expected);
    }
  });

  it('finds the earliest delimiter when delimiters overlap, however the input is cut', () => {
    // '###' holds '##' at 0 and at 1: the first wins, exactly like indexOf on the whole input.
    const input = bytes('a###b##');
    for (const chunks of everyDoubleSplit(input)) {
      expect(run({ maxLineBytes: 100, delimiter: '##' }, chunks).events).toEqual([['line', 'a'], ['line', '#b']]);
    }
    // Held '\r\n\r' then '\n\r\n': the delimiter could complete after 3 held bytes or after 1;
    // the earlier start (3 held bytes) is the one indexOf finds.
    for (const chunks of everyDoubleSplit(bytes('x\r\n\r\n\r\ny\r\n\r\n'))) {
      expect(run({ maxLineBytes: 100, delimiter: '\r\n\r\n', emitPartialAtEnd: true }, chunks).events).toEqual([
        ['line', 'x'],
        ['line', '\r\ny'],
      ]);
    }
    for (const chunks of everyDoubleSplit(bytes('baaaaac'))) {
      expect(run({ maxLineBytes: 100, delimiter: 'aaa', emitPartialAtEnd: true }, chunks).events).toEqual([['line', 'b'], ['line', 'aac']]);
    }
    // A self-overlapping delimiter: 'aab' inside 'aaab' starts at 1.
    for (const chunks of everyDoubleSplit(bytes('xaaabyaab'))) {
      expect(run({ maxLineBytes: 100, delimiter: 'aab' }, chunks).events).toEqual([['line', 'xa'], ['line', 'y']]);
    }
  });

  it('handles \\r\\n as a two-byte delimiter split at every byte', () => {
    const input = bytes('USER anonymous\r\nPASS x\r\n\r\nQUIT\r\n');
    const expected = run({ maxLineBytes: 100, delimiter: '\r\n' }, [input]);
    expect(expected.events).toEqual([['line', 'USER anonymous'], ['line', 'PASS x'], ['line', ''], ['line', 'QUIT']]);
    for (const chunks of everySingleSplit(input)) expect(run({ maxLineBytes: 100, delimiter: '\r\n' }, chunks)).toEqual(expected);
    expect(run({ maxLineBytes: 100, delimiter: '\r\n' }, oneByteAtATime(input))).toEqual(expected);
  });

  it('takes the delimiter as bytes', () => {
    expect(run({ maxLineBytes: 10, delimiter: Buffer.from([0]) }, [Buffer.from([0x61, 0, 0x62, 0])]).events).toEqual([
      ['line', 'a'],
      ['line', 'b'],
    ]);
  });

  it('decodes Chinese and emoji split across chunks at every byte boundary', () => {
    const text = '欢迎 张三 进入聊天室\n管理员消息 🚢⚓ ok\n[日记] 今天天气很好 😀\n';
    const input = bytes(text);
    const expected = { events: text.split('\n').slice(0, -1).map((line): Event => ['line', line]) };
    for (const chunks of everySingleSplit(input)) expect(run({ maxLineBytes: 200 }, chunks)).toEqual(expected);
    expect(run({ maxLineBytes: 200 }, oneByteAtATime(input))).toEqual(expected);
    expect(run({ maxLineBytes: 200, delimiter: '##' }, oneByteAtATime(bytes('😀##管理##'))).events).toEqual([
      ['line', '😀'],
      ['line', '管理'],
    ]);
  });

  it('gives Buffers for output "buffer", which stay intact after later pushes', () => {
    const decoder = new LineDecoder({ maxLineBytes: 100, output: 'buffer' });
    const frames: Buffer[] = [];
    const onFrame = (frame: Buffer): void => {
      frames.push(frame);
    };
    // The first line is assembled from held bytes; the decoder then reuses its buffer.
    decoder.push(bytes('held-'), onFrame);
    decoder.push(bytes('line\nin-chunk\nnext-'), onFrame);
    decoder.push(bytes('held-line-overwrites\n'), onFrame);
    decoder.end(onFrame);
    expect(frames.every((frame) => Buffer.isBuffer(frame))).toBe(true);
    expect(frames.map((frame) => frame.toString())).toEqual(['held-line', 'in-chunk', 'next-held-line-overwrites']);
  });

  it('gives the same lines whatever the chunking: property against the naive specification', () => {
    const alphabet = [0x61, 0x62, 0x23, 0x0d, 0x0a, 0xe4, 0xb8, 0xad];
    const options = fc.record({
      delimiter: fc.constantFrom('\n', '\r\n', '##', '#', 'aba', 'aab', '\r\n\r\n'),
      maxLineBytes: fc.integer({ min: 0, max: 12 }),
      stripCarriageReturn: fc.boolean(),
      onTooLong: fc.constantFrom('error' as const, 'discard' as const),
      emitPartialAtEnd: fc.boolean(),
      output: fc.constantFrom('string' as const, 'buffer' as const),
    });
    const input = fc.array(fc.constantFrom(...alphabet), { maxLength: 80 }).map((values) => Buffer.from(values));
    fc.assert(
      fc.property(options, input, arbitraryCuts(80), (opts, data, cuts) => {
        expect(run(opts, splitAt(data, cuts))).toEqual(reference(opts, data));
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips random lines through LineEncoder and random chunking', () => {
    // A few of each UTF-8 length, '\r' and a lone surrogate (which UTF-8 cannot carry). fc's 'binary'
    // unit would do, but it takes seconds to build its tables.
    const unit = fc.constantFrom('a', ' ', '#', '\r', '\0', 'é', '中', '😀', '\ud800');
    const line = fc.string({ unit, maxLength: 30 }).filter((text) => !text.endsWith('\r'));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), arbitraryCuts(1000), (lines, cuts) => {
        const encoder = new LineEncoder();
        const wire = Buffer.concat(lines.map((text) => encoder.encode(text)));
        const decoded = decodeChunks(new LineDecoder({ maxLineBytes: 200 }), splitAt(wire, cuts));
        // A lone surrogate is sent as U+FFFD: compare with what was sent.
        expect(decoded).toEqual({ frames: lines.map((text) => Buffer.from(text).toString()) });
      }),
      { numRuns: 500 },
    );
  });

  describe('limits', () => {
    it('accepts a line of exactly maxLineBytes and refuses one more byte, with the size', () => {
      expect(run({ maxLineBytes: 5 }, [bytes('12345\n')]).events).toEqual([['line', '12345']]);
      expect(run({ maxLineBytes: 5 }, [bytes('12345\r\n')]).events).toEqual([['line', '12345']]);
      const decoder = new LineDecoder({ maxLineBytes: 5 });
      const error = catchError(() => decoder.push(bytes('ok\n123456\n'), () => undefined));
      expect(error).toBeInstanceOf(FrameTooLargeError);
      expect(error).toMatchObject({ code: 'EFRAMETOOLARGE', limit: 5, size: 6 });
    });

    it('refuses an endless line as soon as it cannot fit, holding no more than the limit', () => {
      const decoder = new LineDecoder({ maxLineBytes: 1024 });
      let held = 0;
      const error = catchError(() => {
        for (let i = 0; i < 1000; i++) {
          decoder.push(Buffer.alloc(100, 0x61), () => undefined);
          held = Math.max(held, decoder.bufferedBytes);
        }
      });
      expect(error).toBeInstanceOf(FrameTooLargeError);
      expect((error as FrameTooLargeError).size).toBeUndefined();
      expect(held).toBeLessThanOrEqual(1025);
    });

    it('refuses a huge line in a single chunk without holding it', () => {
      const decoder = new LineDecoder({ maxLineBytes: 10 });
      expect(() => decoder.push(Buffer.alloc(1 << 20, 0x61), () => undefined)).toThrow(FrameTooLargeError);
      expect(decoder.bufferedBytes).toBe(0);
    });

    it('is unusable after a throw: later calls throw the same error', () => {
      const decoder = new LineDecoder({ maxLineBytes: 2 });
      const first = catchError(() => decoder.push(bytes('toolong\n'), () => undefined));
      expect(catchError(() => decoder.push(bytes('ok\n'), () => undefined))).toBe(first);
      expect(catchError(() => decoder.end(() => undefined))).toBe(first);
    });
  });

  describe('discard mode', () => {
    it('drops an over-long line up to the next delimiter and goes on, however it is cut', () => {
      const input = bytes(`short\n${'x'.repeat(100)}\nok\n${'y'.repeat(20)}\r\nlast\n`);
      const expected = { events: [['line', 'short'], ['discard', 100], ['line', 'ok'], ['discard', 21], ['line', 'last']] };
      const options = { maxLineBytes: 10, onTooLong: 'discard' } as const;
      for (const chunks of everySingleSplit(input)) expect(run(options, chunks)).toEqual(expected);
      expect(run(options, oneByteAtATime(input))).toEqual(expected);
    });

    it('finds a multi-byte delimiter that straddles chunks while discarding', () => {
      const input = bytes(`${'z'.repeat(30)}##next##`);
      const options = { maxLineBytes: 4, onTooLong: 'discard', delimiter: '##' } as const;
      for (const chunks of everyDoubleSplit(input)) expect(run(options, chunks)).toEqual({ events: [['discard', 30], ['line', 'next']] });
    });

    it('finds a 4-byte delimiter arriving byte by byte while discarding', () => {
      const input = bytes(`${'z'.repeat(12)}\r\n\r\nok\r\n\r\n${'q'.repeat(9)}\r\n\r`);
      const options = { maxLineBytes: 4, onTooLong: 'discard', delimiter: '\r\n\r\n' } as const;
      const expected = { events: [['discard', 12], ['line', 'ok'], ['discard', 12]] };
      expect(run(options, oneByteAtATime(input))).toEqual(expected);
      for (const chunks of everyDoubleSplit(input)) expect(run(options, chunks)).toEqual(expected);
    });

    it('holds at most the delimiter length while discarding a long line', () => {
      const decoder = new LineDecoder({ maxLineBytes: 8, onTooLong: 'discard', delimiter: '\r\n' });
      for (let i = 0; i < 100; i++) {
        decoder.push(Buffer.alloc(1000, 0x61), () => undefined);
        expect(decoder.bufferedBytes).toBeLessThanOrEqual(1);
      }
    });

    it('reports an over-long last line at end() as discarded', () => {
      expect(run({ maxLineBytes: 3, onTooLong: 'discard' }, [bytes('a\nlong-tail')])).toEqual({ events: [['line', 'a'], ['discard', 9]] });
    });
  });

  describe('end()', () => {
    it('throws TruncatedFrameError for bytes without a delimiter', () => {
      const decoder = new LineDecoder({ maxLineBytes: 100 });
      decoder.push(bytes('done\npartial'), () => undefined);
      const error = catchError(() => decoder.end(() => undefined));
      expect(error).toBeInstanceOf(TruncatedFrameError);
      expect(error).toMatchObject({ code: 'ETRUNCATED', bufferedBytes: 7 });
    });

    it('emits the last line when emitPartialAtEnd, stripping a trailing \\r', () => {
      expect(run({ maxLineBytes: 100, emitPartialAtEnd: true }, [bytes('a\nlast\r')]).events).toEqual([['line', 'a'], ['line', 'last']]);
      expect(run({ maxLineBytes: 100, delimiter: '##', emitPartialAtEnd: true }, [bytes('x##y#')]).events).toEqual([['line', 'x'], ['line', 'y#']]);
    });

    it('is clean at a frame boundary and may be called twice; push after end is refused', () => {
      const decoder = new LineDecoder({ maxLineBytes: 100 });
      decoder.push(bytes('a\n'), () => undefined);
      decoder.end(() => undefined);
      decoder.end(() => undefined);
      expect(() => decoder.push(bytes('b\n'), () => undefined)).toThrow(/after end/);
    });
  });

  it('never throws anything but a CodecError on random bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        arbitraryCuts(300),
        fc.constantFrom('\n', '\r\n', '##', '\0'),
        fc.integer({ min: 0, max: 64 }),
        fc.boolean(),
        (data, cuts, delimiter, maxLineBytes, discard) => {
          const decoder = new LineDecoder({ maxLineBytes, delimiter, onTooLong: discard ? 'discard' : 'error', emitPartialAtEnd: true });
          const result = decodeChunks(decoder, splitAt(Buffer.from(data), cuts));
          for (const line of result.frames) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(maxLineBytes * 3); // U+FFFD is 3 bytes
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses bad options', () => {
    expect(() => new LineDecoder({} as LineDecoderOptions)).toThrow(/maxLineBytes is required/);
    expect(() => new LineDecoder({ maxLineBytes: -1 })).toThrow(RangeError);
    expect(() => new LineDecoder({ maxLineBytes: 1.5 })).toThrow(RangeError);
    expect(() => new LineDecoder({ maxLineBytes: 10, delimiter: '' })).toThrow(/must not be empty/);
  });
});

describe('LineDecoder.takeRemaining (hand-over, as Twisted setRawMode/clearLineBuffer)', () => {
  /** Pushes the chunks; after the line `switchAfter`, takes the rest and collects every later byte raw. */
  function switchToRaw(chunks: readonly Buffer[], switchAfter: string, options: Partial<LineDecoderOptions<'string'>> = {}): { lines: string[]; raw: Buffer } {
    const decoder = new LineDecoder({ maxLineBytes: 64, ...options });
    const lines: string[] = [];
    const raw: Buffer[] = [];
    let rawMode = false;
    for (const chunk of chunks) {
      if (rawMode) {
        raw.push(chunk);
        continue;
      }
      decoder.push(chunk, (line) => {
        lines.push(line);
        if (line === switchAfter) {
          rawMode = true;
          raw.push(decoder.takeRemaining());
        }
      });
    }
    return { lines, raw: Buffer.concat(raw) };
  }

  it('hands over the bytes after a line byte for byte, however the input is cut, and emits no line from them', () => {
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x0a, 0x0a, 0x0d, 0x0a, 0xff, 0x00, 0x0d]);
    const input = Buffer.concat([Buffer.from('NOOP\r\nAUTH TLS\r\n'), hello]);
    for (const chunks of [[input], ...everySingleSplit(input), oneByteAtATime(input)]) {
      const { lines, raw } = switchToRaw(chunks, 'AUTH TLS');
      expect(lines).toEqual(['NOOP', 'AUTH TLS']);
      expect(raw.equals(hello)).toBe(true);
    }
  });

  it('hands over with a multi-byte delimiter split across chunks', () => {
    const input = Buffer.from('one##two##\x00#raw##bytes');
    for (const chunks of [[input], ...everySingleSplit(input), oneByteAtATime(input)]) {
      const { lines, raw } = switchToRaw(chunks, 'two', { delimiter: '##' });
      expect(lines).toEqual(['one', 'two']);
      expect(raw.toString('latin1')).toBe('\x00#raw##bytes');
    }
  });

  it('outside a push, gives the held start of a line as received (its \\r kept) and empties the decoder', () => {
    const decoder = new LineDecoder({ maxLineBytes: 64 });
    const lines: string[] = [];
    decoder.push(Buffer.from('USER a\r\nPAS'), (line) => lines.push(line));
    decoder.push(Buffer.from('S x\r'), (line) => lines.push(line));
    expect(lines).toEqual(['USER a']);
    expect(decoder.bufferedBytes).toBe(7);
    expect(decoder.takeRemaining().toString('latin1')).toBe('PASS x\r');
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.takeRemaining().length).toBe(0);
    // Pushed back, the bytes decode as they would have: nothing was lost or changed.
    decoder.push(Buffer.from('PASS x\r\n'), (line) => lines.push(line));
    expect(lines).toEqual(['USER a', 'PASS x']);
  });

  it('drops an over-long line being discarded and goes back to lines', () => {
    const discarded: number[] = [];
    const decoder = new LineDecoder({ maxLineBytes: 8, onTooLong: 'discard', onDiscard: (bytes) => discarded.push(bytes) });
    const lines: string[] = [];
    decoder.push(Buffer.from('x'.repeat(20)), (line) => lines.push(line));
    expect(decoder.takeRemaining().length).toBe(0);
    decoder.push(Buffer.from('ok\n'), (line) => lines.push(line));
    expect(lines).toEqual(['ok']);
    expect(discarded).toEqual([]);
  });

  it('a push after the hand-over starts a fresh line', () => {
    const decoder = new LineDecoder({ maxLineBytes: 64 });
    const lines: string[] = [];
    decoder.push(Buffer.from('a\nb\nc'), (line) => {
      lines.push(line);
      if (line === 'a') expect(decoder.takeRemaining().toString()).toBe('b\nc');
    });
    expect(lines).toEqual(['a']);
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(Buffer.from('d\n'), (line) => lines.push(line));
    expect(lines).toEqual(['a', 'd']);
  });
});

describe('LineEncoder', () => {
  it('appends the delimiter, byte for byte', () => {
    expect(new LineEncoder().encode('héllo')).toEqual(Buffer.from([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0x0a]));
    expect(new LineEncoder({ delimiter: '\r\n' }).encode('QUIT')).toEqual(bytes('QUIT\r\n'));
    expect(new LineEncoder({ delimiter: '##' }).encode(Buffer.from([1, 2]))).toEqual(Buffer.from([1, 2, 0x23, 0x23]));
    expect(new LineEncoder().encode('')).toEqual(bytes('\n'));
  });

  it('refuses a line that would not come back as one line', () => {
    expect(() => new LineEncoder().encode('two\nlines')).toThrow(FrameFormatError);
    // 'a#' + '##' reads back as 'a' then a stray '#'.
    expect(() => new LineEncoder({ delimiter: '##' }).encode('a#')).toThrow(FrameFormatError);
    expect(new LineEncoder({ delimiter: '##' }).encode('#a')).toEqual(bytes('#a##'));
  });

  it('enforces maxLineBytes when given', () => {
    const encoder = new LineEncoder({ maxLineBytes: 3 });
    expect(encoder.encode('abc')).toEqual(bytes('abc\n'));
    expect(catchError(() => encoder.encode('中'.repeat(2)))).toMatchObject({ code: 'EFRAMETOOLARGE', limit: 3, size: 6 });
  });
});

describe('Utf8StreamDecoder', () => {
  it('decodes text split at every byte without breaking characters', () => {
    const text = 'diary: 今天 😀 ok — ñ';
    const input = bytes(text);
    for (const [first, second] of everySingleSplit(input)) {
      const decoder = new Utf8StreamDecoder();
      expect(decoder.write(first!) + decoder.write(second!) + decoder.end()).toBe(text);
    }
    const decoder = new Utf8StreamDecoder();
    expect(oneByteAtATime(input).map((chunk) => decoder.write(chunk)).join('') + decoder.end()).toBe(text);
  });

  it('holds an incomplete character until its last byte, and flushes it as U+FFFD at end', () => {
    const decoder = new Utf8StreamDecoder();
    const emoji = bytes('😀');
    expect(decoder.write(emoji.subarray(0, 2))).toBe('');
    expect(decoder.write(emoji.subarray(2))).toBe('😀');
    expect(decoder.write(emoji.subarray(0, 3))).toBe('');
    expect(decoder.end()).toBe('\ufffd');
  });

  it('keeps a byte order mark', () => {
    const decoder = new Utf8StreamDecoder();
    expect(decoder.write(Buffer.from([0xef, 0xbb, 0xbf, 0x61])) + decoder.end()).toBe('\ufeffa');
  });
});

function catchError(action: () => void): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
