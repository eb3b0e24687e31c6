import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameFormatError, FrameTooLargeError, HeaderFrameDecoder, TruncatedFrameError, encodeHeaderFrame } from '../../src/codec/index.js';
import type { HeaderFrameDecoderOptions, HeaderFrameEvent } from '../../src/codec/index.js';
import { arbitraryCuts, decodeChunks, everyDoubleSplit, everySingleSplit, oneByteAtATime, splitAt } from './support.js';

const limits = { maxHeaderBytes: 1024, maxBodyBytes: 1 << 20 };

interface Frame {
  header: Record<string, unknown>;
  bodyBytes: number;
  body: string;
}

/**
 * Decodes, checking the event grammar (header, body*, end), and joins each frame's body chunks.
 * Body chunks are joined when the run ends, so a chunk overwritten by a later push would show.
 */
function decodeFrames(chunks: readonly Buffer[], options: HeaderFrameDecoderOptions = limits): { frames: Frame[]; error?: string } {
  const result = decodeChunks<HeaderFrameEvent>(new HeaderFrameDecoder(options), chunks);
  const frames: Frame[] = [];
  let current: { header: Record<string, unknown>; bodyBytes: number; parts: Buffer[] } | undefined;
  // Plain checks rather than expect(): this runs thousands of times per test.
  const check = (condition: boolean, message: string): void => {
    if (!condition) throw new Error(`bad event sequence: ${message}`);
  };
  for (const event of result.frames) {
    if (event.type === 'header') {
      check(current === undefined, "'header' inside a frame");
      current = { header: event.header, bodyBytes: event.bodyBytes, parts: [] };
    } else if (event.type === 'body') {
      check(current !== undefined, "'body' without 'header'");
      check(event.chunk.length > 0, "empty 'body'");
      current?.parts.push(event.chunk);
    } else {
      if (current === undefined) throw new Error("bad event sequence: 'end' without 'header'");
      const body = Buffer.concat(current.parts);
      check(body.length === current.bodyBytes, `body of ${body.length} bytes, header said ${current.bodyBytes}`);
      frames.push({ header: current.header, bodyBytes: current.bodyBytes, body: body.toString('hex') });
      current = undefined;
    }
  }
  if (result.error === undefined) check(current === undefined, "no 'end' after the last frame");
  return result.error === undefined ? { frames } : { frames, error: result.error };
}

function frame(header: Record<string, unknown>, body: Buffer | string): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([encodeHeaderFrame(header, bytes.length), bytes]);
}

/** A frame with a hand-made prefix and header text. */
function raw(headerText: string, body = '', order: 'little' | 'big' = 'little'): Buffer {
  const header = Buffer.from(headerText);
  const prefix = Buffer.alloc(4);
  if (order === 'little') prefix.writeInt32LE(header.length);
  else prefix.writeInt32BE(header.length);
  return Buffer.concat([prefix, header, Buffer.from(body)]);
}

const hexOf = (text: string): string => Buffer.from(text).toString('hex');

describe('encodeHeaderFrame', () => {
  it('writes a little-endian int32 length then compact JSON with the size field', () => {
    const json = '{"action":"put","filename":"a.txt","filesize":5}';
    const expected = Buffer.concat([Buffer.from([json.length, 0, 0, 0]), Buffer.from(json)]);
    expect(encodeHeaderFrame({ action: 'put', filename: 'a.txt' }, 5)).toEqual(expected);
  });

  it('sets the size field from bodyLength, honours byteOrder and sizeField', () => {
    expect(encodeHeaderFrame({ size: 9, n: 'x' }, 3, { byteOrder: 'big', sizeField: 'size' })).toEqual(
      Buffer.concat([Buffer.from([0, 0, 0, 18]), Buffer.from('{"size":3,"n":"x"}')]),
    );
  });

  it('refuses a header past maxHeaderBytes and a bad body length', () => {
    expect(() => encodeHeaderFrame({ name: 'x'.repeat(100) }, 0, { maxHeaderBytes: 50 })).toThrow(FrameTooLargeError);
    expect(() => encodeHeaderFrame({}, -1)).toThrow(RangeError);
    expect(() => encodeHeaderFrame({}, 1.5)).toThrow(RangeError);
  });
});

describe('HeaderFrameDecoder', () => {
  it("decodes the frame Python's seed writes (struct.pack('i'), json.dumps with its spaces and \\u escapes)", () => {
    // python3: j = json.dumps({"action":"put","filename":"报告.txt","filesize":5}).encode()
    //          struct.pack("i", len(j)) + j + b"hello"
    const python = Buffer.from(
      '400000007b22616374696f6e223a2022707574222c202266696c656e616d65223a20225c75363261355c75353434612e747874222c202266696c6573697a65223a20357d',
      'hex',
    );
    expect(decodeFrames([Buffer.concat([python, Buffer.from('hello')])])).toEqual({
      frames: [{ header: { action: 'put', filename: '报告.txt', filesize: 5 }, bodyBytes: 5, body: hexOf('hello') }],
    });
  });

  it('emits header, body chunks cut at the body end, end; then the next frame from the same chunk', () => {
    const events: HeaderFrameEvent[] = [];
    const decoder = new HeaderFrameDecoder(limits);
    const first = frame({ action: 'put', filename: 'a' }, 'ab##cd');
    const second = frame({ action: 'put', filename: 'b' }, '');
    const third = frame({ action: 'put', filename: 'c' }, 'xyz');
    decoder.push(Buffer.concat([first.subarray(0, first.length - 2)]), (event) => events.push(event));
    decoder.push(Buffer.concat([first.subarray(first.length - 2), second, third]), (event) => events.push(event));
    decoder.end(() => undefined);
    expect(events.map((event) => (event.type === 'body' ? `body:${event.chunk.toString()}` : event.type === 'header' ? `header:${String(event.header['filename'])}:${event.bodyBytes}` : 'end'))).toEqual([
      'header:a:6',
      'body:ab##',
      'body:cd',
      'end',
      'header:b:0',
      'end',
      'header:c:3',
      'body:xyz',
      'end',
    ]);
  });

  it("carries a body holding '##' and an empty body through every split into three chunks", () => {
    const input = Buffer.concat([frame({ action: 'stor', filename: '##.txt' }, '##\n##'), frame({ action: 'list' }, ''), frame({ f: '中文' }, '😀')]);
    const expected = decodeFrames([input]);
    expect(expected.frames.map((f) => f.body)).toEqual([hexOf('##\n##'), '', hexOf('😀')]);
    for (const chunks of everyDoubleSplit(input)) expect(decodeFrames(chunks)).toEqual(expected);
    expect(decodeFrames(oneByteAtATime(input))).toEqual(expected);
  });

  it('round-trips random headers and bodies through any chunking (property)', () => {
    const header = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 });
    const frames = fc.array(fc.tuple(header, fc.uint8Array({ maxLength: 300 })), { maxLength: 6 });
    fc.assert(
      fc.property(frames, arbitraryCuts(4000), fc.constantFrom('little' as const, 'big' as const), (list, cuts, byteOrder) => {
        const wire = Buffer.concat(list.flatMap(([h, body]) => [encodeHeaderFrame(h, body.length, { byteOrder }), Buffer.from(body)]));
        const expected = list.map(([h, body]) => ({
          // What JSON carries: e.g. -0 comes back as 0.
          header: JSON.parse(JSON.stringify({ ...h, filesize: body.length })) as Record<string, unknown>,
          bodyBytes: body.length,
          body: Buffer.from(body).toString('hex'),
        }));
        // Random JSON can pass the 1 KiB header limit of the other tests (limits have tests of their own).
        expect(decodeFrames(splitAt(wire, cuts), { ...limits, maxHeaderBytes: 1 << 20, byteOrder })).toEqual({ frames: expected });
      }),
      { numRuns: 500 },
    );
  });

  it('never holds body bytes, only the prefix and header', () => {
    const decoder = new HeaderFrameDecoder({ maxHeaderBytes: 100, maxBodyBytes: 1 << 30 });
    const head = encodeHeaderFrame({ filename: 'big.iso' }, 1 << 30);
    decoder.push(head.subarray(0, 10), () => undefined);
    expect(decoder.bufferedBytes).toBe(6); // the prefix is read; 6 header bytes wait for the rest
    let bodyBytes = 0;
    decoder.push(head.subarray(10), () => undefined);
    for (let i = 0; i < 100; i++) {
      decoder.push(Buffer.alloc(64 * 1024), (event) => {
        if (event.type === 'body') bodyBytes += event.chunk.length;
      });
      expect(decoder.bufferedBytes).toBe(0);
    }
    expect(bodyBytes).toBe(100 * 64 * 1024);
  });

  it('treats a missing size field as an empty body and honours sizeField', () => {
    expect(decodeFrames([raw('{"action":"list"}')]).frames).toEqual([{ header: { action: 'list' }, bodyBytes: 0, body: '' }]);
    expect(decodeFrames([raw('{"len":2}', 'ok', 'big')], { ...limits, sizeField: 'len', byteOrder: 'big' }).frames).toEqual([
      { header: { len: 2 }, bodyBytes: 2, body: hexOf('ok') },
    ]);
  });

  describe('bad input', () => {
    const cases: Array<[string, Buffer, string]> = [
      // The seed itself sends "filesize": filename (a string); this decoder says so instead of hanging.
      ["a string size field (the seed's own bug)", raw('{"action":"put","filename":"a.txt","filesize":"a.txt"}'), 'EFRAMEFORMAT'],
      ['a negative size', raw('{"filesize":-1}'), 'EFRAMEFORMAT'],
      ['a fractional size', raw('{"filesize":1.5}'), 'EFRAMEFORMAT'],
      ['a null size', raw('{"filesize":null}'), 'EFRAMEFORMAT'],
      ['invalid JSON', raw('{"action":'), 'EFRAMEFORMAT'],
      ['a JSON array', raw('[1,2]'), 'EFRAMEFORMAT'],
      ['JSON null', raw('null'), 'EFRAMEFORMAT'],
      ['invalid UTF-8', Buffer.concat([Buffer.from([4, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]), 'EFRAMEFORMAT'],
      ['a negative header length', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7b, 0x7d]), 'EFRAMEFORMAT'],
      ['an empty header', Buffer.from([0, 0, 0, 0]), 'EFRAMEFORMAT'],
      ['a body past maxBodyBytes', raw(`{"filesize":${(1 << 20) + 1}}`), 'EFRAMETOOLARGE'],
      ['a header past maxHeaderBytes', raw(`{"pad":"${'x'.repeat(1100)}"}`), 'EFRAMETOOLARGE'],
    ];
    for (const [name, input, code] of cases) {
      it(`refuses ${name}`, () => {
        for (const chunks of everySingleSplit(input)) expect(decodeFrames(chunks)).toEqual({ frames: [], error: code });
      });
    }

    it('refuses a huge header length before buffering the header', () => {
      const decoder = new HeaderFrameDecoder(limits);
      let error: unknown;
      try {
        decoder.push(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(64 * 1024, 0x20)]), () => undefined);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(FrameTooLargeError);
      expect(error).toMatchObject({ limit: 1024, size: 0x7fffffff });
      expect(decoder.bufferedBytes).toBe(0);
    });

    it('refuses an oversized body at the header, before any body byte', () => {
      const decoder = new HeaderFrameDecoder({ maxHeaderBytes: 100, maxBodyBytes: 10 });
      const events: string[] = [];
      expect(() => decoder.push(raw('{"filesize":11}', 'x'), (event) => events.push(event.type))).toThrow(FrameTooLargeError);
      expect(events).toEqual([]);
      expect(() => decoder.push(raw('{}'), () => undefined)).toThrow(FrameTooLargeError); // still failed
    });
  });

  describe('end()', () => {
    const input = frame({ filename: 'a' }, 'body');
    it('throws TruncatedFrameError when the stream stops inside a prefix, header or body', () => {
      for (const cut of [1, 3, 4, 10, input.length - 4, input.length - 1]) {
        const decoder = new HeaderFrameDecoder(limits);
        decoder.push(input.subarray(0, cut), () => undefined);
        expect(() => decoder.end(() => undefined)).toThrow(TruncatedFrameError);
      }
    });

    it('is clean after a whole frame', () => {
      expect(decodeFrames([input]).error).toBeUndefined();
      expect(decodeFrames([]).frames).toEqual([]);
    });
  });

  it('never throws anything but a CodecError on random bytes', () => {
    // Random bytes rarely make a valid prefix: also try a valid prefix before random header bytes.
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 300 })).map(([length, rest]) => {
        const prefix = Buffer.alloc(4);
        prefix.writeInt32LE(length);
        return Buffer.concat([prefix, Buffer.from(rest)]);
      }),
      fc.tuple(fc.jsonValue({ maxDepth: 1 }), fc.uint8Array({ maxLength: 50 })).map(([value, rest]) => Buffer.concat([raw(JSON.stringify(value) ?? ''), Buffer.from(rest)])),
    );
    fc.assert(
      fc.property(data, arbitraryCuts(400), fc.integer({ min: 0, max: 64 }), (bytes, cuts, maxBodyBytes) => {
        decodeFrames(splitAt(Buffer.from(bytes), cuts), { maxHeaderBytes: 64, maxBodyBytes });
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses bad options', () => {
    expect(() => new HeaderFrameDecoder({ maxHeaderBytes: 10 } as HeaderFrameDecoderOptions)).toThrow(/maxBodyBytes is required/);
    expect(() => new HeaderFrameDecoder({ maxBodyBytes: 10 } as HeaderFrameDecoderOptions)).toThrow(/maxHeaderBytes is required/);
  });

  it('is a FrameFormatError, a CodecError', () => {
    const decoder = new HeaderFrameDecoder(limits);
    expect(() => decoder.push(raw('[]'), () => undefined)).toThrow(FrameFormatError);
  });
});
