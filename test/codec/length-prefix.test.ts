import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FrameFormatError,
  FrameTooLargeError,
  LengthPrefixDecoder,
  LengthPrefixEncoder,
  TruncatedFrameError,
} from '../../src/codec/index.js';
import type { LengthFieldBytes, LengthPrefixDecoderOptions } from '../../src/codec/index.js';
import { arbitraryCuts, decodeChunks, everyDoubleSplit, hex, oneByteAtATime, splitAt } from './support.js';

const h = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function decodeHex(options: LengthPrefixDecoderOptions, chunks: readonly Buffer[]): { frames: string[]; error?: string } {
  const result = decodeChunks(new LengthPrefixDecoder(options), chunks);
  return result.error === undefined ? { frames: hex(result.frames) } : { frames: hex(result.frames), error: result.error };
}

describe('LengthPrefixEncoder', () => {
  it('writes the length field byte for byte, in both orders and every width', () => {
    const body = Buffer.from('abc');
    const encode = (lengthBytes: LengthFieldBytes, byteOrder: 'big' | 'little', lengthAdjustment = 0): string =>
      new LengthPrefixEncoder({ lengthBytes, byteOrder, lengthAdjustment, maxFrameBytes: 100 }).encode(body).toString('hex');
    expect(encode(1, 'big')).toBe('03616263');
    expect(encode(2, 'big')).toBe('0003616263');
    expect(encode(2, 'little')).toBe('0300616263');
    expect(encode(4, 'big')).toBe('00000003616263');
    expect(encode(4, 'little')).toBe('03000000616263');
    expect(encode(8, 'big')).toBe('0000000000000003616263');
    expect(encode(8, 'little')).toBe('0300000000000000616263');
    // A field that counts itself: 4 + 3 = 7.
    expect(encode(4, 'big', -4)).toBe('00000007616263');
    expect(new LengthPrefixEncoder({ lengthBytes: 2, maxFrameBytes: 0 }).encode(Buffer.alloc(0)).toString('hex')).toBe('0000');
  });

  it('encodes the header alone for a body sent separately', () => {
    const encoder = new LengthPrefixEncoder({ lengthBytes: 4, maxFrameBytes: 1 << 30 });
    expect(encoder.encodeHeader(70000).toString('hex')).toBe('00011170');
    expect(() => encoder.encodeHeader(-1)).toThrow(RangeError);
  });

  it('refuses a frame past the maximum, past what the field can express, or below the adjustment', () => {
    expect(() => new LengthPrefixEncoder({ lengthBytes: 4, maxFrameBytes: 10 }).encode(Buffer.alloc(11))).toThrow(FrameTooLargeError);
    const narrow = new LengthPrefixEncoder({ lengthBytes: 1, maxFrameBytes: 1000 });
    expect(narrow.encode(Buffer.alloc(255)).length).toBe(256);
    expect(() => narrow.encode(Buffer.alloc(256))).toThrow(expect.objectContaining({ code: 'EFRAMETOOLARGE', limit: 255, size: 256 }));
    // The field counts 2 bytes that are not there: a 1-byte body would need the value -1.
    expect(() => new LengthPrefixEncoder({ lengthBytes: 2, lengthAdjustment: 2, maxFrameBytes: 10 }).encode(Buffer.alloc(1))).toThrow(FrameFormatError);
  });
});

describe('LengthPrefixDecoder', () => {
  it('decodes two frames and an empty one from one chunk', () => {
    expect(decodeHex({ lengthBytes: 2, maxFrameBytes: 10 }, [h('0002 6869 0000 0003 616263')])).toEqual({ frames: ['6869', '', '616263'] });
  });

  it('keeps the length field when stripHeader is false', () => {
    expect(decodeHex({ lengthBytes: 2, maxFrameBytes: 10, stripHeader: false }, [h('0002 6869 0000')])).toEqual({ frames: ['00026869', '0000'] });
  });

  it('reads a little-endian field that counts itself (Netty lengthAdjustment)', () => {
    expect(decodeHex({ lengthBytes: 4, byteOrder: 'little', lengthAdjustment: -4, maxFrameBytes: 10 }, [h('06000000 6869 04000000')])).toEqual({
      frames: ['6869', ''],
    });
  });

  it('reads 8-byte fields', () => {
    expect(decodeHex({ lengthBytes: 8, maxFrameBytes: 10 }, [h('0000000000000001 ff')])).toEqual({ frames: ['ff'] });
    expect(decodeHex({ lengthBytes: 8, byteOrder: 'little', maxFrameBytes: 10 }, [h('0100000000000000 ff')])).toEqual({ frames: ['ff'] });
  });

  it('gives the same frames for every split of the input into three chunks and byte by byte', () => {
    for (const stripHeader of [true, false]) {
      const options = { lengthBytes: 4, maxFrameBytes: 100, stripHeader } as const;
      const input = h('00000003 616263 00000000 00000001 7a 00000005 3031323334');
      const expected = decodeHex(options, [input]);
      expect(expected.frames).toHaveLength(4);
      for (const chunks of everyDoubleSplit(input)) expect(decodeHex(options, chunks)).toEqual(expected);
      expect(decodeHex(options, oneByteAtATime(input))).toEqual(expected);
    }
  });

  it('round-trips random frames through the encoder and any chunking (property)', () => {
    const options = fc.record({
      lengthBytes: fc.constantFrom<LengthFieldBytes>(1, 2, 4, 8),
      byteOrder: fc.constantFrom('big' as const, 'little' as const),
      lengthAdjustment: fc.integer({ min: -8, max: 0 }),
      stripHeader: fc.boolean(),
    });
    const frames = fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 });
    fc.assert(
      fc.property(options, frames, arbitraryCuts(3000), (opts, bodies, cuts) => {
        const full = { ...opts, maxFrameBytes: 200 };
        const encoder = new LengthPrefixEncoder(full);
        const encoded = bodies.map((body) => encoder.encode(body));
        const result = decodeHex(full, splitAt(Buffer.concat(encoded), cuts));
        const expected = opts.stripHeader ? bodies.map((body) => Buffer.from(body)) : encoded;
        expect(result).toEqual({ frames: hex(expected) });
      }),
      { numRuns: 1000 },
    );
  });

  it('gives frames that stay valid after later pushes', () => {
    const decoder = new LengthPrefixDecoder({ lengthBytes: 1, maxFrameBytes: 100 });
    const frames: Buffer[] = [];
    const onFrame = (frame: Buffer): void => {
      frames.push(frame);
    };
    decoder.push(h('03 61'), onFrame);
    decoder.push(h('6263 02'), onFrame); // 'abc' completed from two chunks
    decoder.push(h('7879 01'), onFrame); // 'xy' header split from its body
    decoder.push(h('7a'), onFrame);
    decoder.end(onFrame);
    expect(frames.map((frame) => frame.toString())).toEqual(['abc', 'xy', 'z']);
  });

  describe('limits', () => {
    it('refuses a huge announced length at the header, before buffering any body', () => {
      const decoder = new LengthPrefixDecoder({ lengthBytes: 4, maxFrameBytes: 1024 });
      const onFrame = (): void => undefined;
      decoder.push(h('7f'), onFrame);
      expect(decoder.bufferedBytes).toBe(1);
      let error: unknown;
      try {
        decoder.push(Buffer.concat([h('ffffff'), Buffer.alloc(64 * 1024)]), onFrame);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(FrameTooLargeError);
      expect(error).toMatchObject({ code: 'EFRAMETOOLARGE', limit: 1024, size: 0x7fffffff });
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(4);
    });

    it('accepts exactly maxFrameBytes and refuses one more', () => {
      expect(decodeHex({ lengthBytes: 2, maxFrameBytes: 3 }, [h('0003 616263')])).toEqual({ frames: ['616263'] });
      expect(decodeHex({ lengthBytes: 2, maxFrameBytes: 3 }, [h('0004 61626364')])).toEqual({ frames: [], error: 'EFRAMETOOLARGE' });
      // The limit applies to the adjusted length.
      expect(decodeHex({ lengthBytes: 2, lengthAdjustment: -2, maxFrameBytes: 3 }, [h('0005 616263')])).toEqual({ frames: ['616263'] });
    });

    it('reads 8-byte lengths exactly and refuses them past the limit', () => {
      const decoder = new LengthPrefixDecoder({ lengthBytes: 8, maxFrameBytes: 1024 });
      let error: unknown;
      try {
        decoder.push(h('8000000000000000'), () => undefined);
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: 'EFRAMETOOLARGE', limit: 1024, size: undefined });
      // 2^53 + 1 is not a double: read as a number it would round to 2^53 and give a 1-byte body.
      const options = { lengthBytes: 8, lengthAdjustment: -(2 ** 53 - 1), maxFrameBytes: 1024 } as const;
      expect(decodeHex(options, [h('0020000000000001 6162')])).toEqual({ frames: ['6162'] });
    });

    it('holds only what arrived of a large announced frame, not what was announced', () => {
      const decoder = new LengthPrefixDecoder({ lengthBytes: 4, maxFrameBytes: 64 * 1024 * 1024 });
      decoder.push(Buffer.concat([h('02000000'), Buffer.alloc(100)]), () => undefined);
      expect(decoder.bufferedBytes).toBe(100);
    });

    it('refuses a negative computed length, for every width', () => {
      for (const lengthBytes of [1, 2, 4, 8] as const) {
        const options = { lengthBytes, lengthAdjustment: -lengthBytes, maxFrameBytes: 100 };
        const field = (value: number): Buffer => new LengthPrefixEncoder({ lengthBytes, maxFrameBytes: 100 }).encodeHeader(value);
        // Exactly the field's own size is an empty body; one less is negative.
        expect(decodeHex(options, [field(lengthBytes)])).toEqual({ frames: [''] });
        expect(decodeHex(options, [field(lengthBytes - 1), h('6162')])).toEqual({ frames: [], error: 'EFRAMEFORMAT' });
      }
    });

    it('is unusable after a throw', () => {
      const decoder = new LengthPrefixDecoder({ lengthBytes: 1, maxFrameBytes: 1 });
      expect(() => decoder.push(h('05'), () => undefined)).toThrow(FrameTooLargeError);
      expect(() => decoder.push(h('00'), () => undefined)).toThrow(FrameTooLargeError);
    });
  });

  describe('end()', () => {
    it('throws TruncatedFrameError inside a length field or a body', () => {
      for (const input of [h('00'), h('0003 6162'), h('0003')]) {
        const decoder = new LengthPrefixDecoder({ lengthBytes: 2, maxFrameBytes: 10 });
        decoder.push(input, () => undefined);
        expect(() => decoder.end(() => undefined)).toThrow(TruncatedFrameError);
      }
    });

    it('is clean at a frame boundary', () => {
      expect(decodeHex({ lengthBytes: 2, maxFrameBytes: 10 }, [h('0001 61')])).toEqual({ frames: ['61'] });
    });
  });

  it('never throws anything but a CodecError on random bytes, nor emits a frame past the limit', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        arbitraryCuts(400),
        fc.constantFrom<LengthFieldBytes>(1, 2, 4, 8),
        fc.integer({ min: -8, max: 8 }),
        fc.integer({ min: 0, max: 300 }),
        (data, cuts, lengthBytes, lengthAdjustment, maxFrameBytes) => {
          const decoder = new LengthPrefixDecoder({ lengthBytes, lengthAdjustment, maxFrameBytes });
          const result = decodeChunks(decoder, splitAt(Buffer.from(data), cuts));
          for (const frame of result.frames) expect(frame.length).toBeLessThanOrEqual(maxFrameBytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses bad options', () => {
    expect(() => new LengthPrefixDecoder({ lengthBytes: 4 } as LengthPrefixDecoderOptions)).toThrow(/maxFrameBytes is required/);
    expect(() => new LengthPrefixDecoder({ lengthBytes: 3 as LengthFieldBytes, maxFrameBytes: 1 })).toThrow(RangeError);
    expect(() => new LengthPrefixDecoder({ lengthBytes: 2, byteOrder: 'middle' as 'big', maxFrameBytes: 1 })).toThrow(RangeError);
  });
});
