import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { answerFor, isEndMarker, lineEnding, modeFrom } from '../../../src/services/echo/protocol.js';

const b = (s: string) => Buffer.from(s);

describe('echo protocol', () => {
  it('echo mode answers every byte as it came, binary included', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      expect(answerFor({ kind: 'echo' }, Buffer.from(bytes)).equals(Buffer.from(bytes))).toBe(true);
    }));
  });

  it('reply mode answers the fixed text and keeps the message line ending', () => {
    const mode = { kind: 'reply', text: 'Thanks' } as const;
    expect(answerFor(mode, b('hello')).toString()).toBe('Thanks');
    expect(answerFor(mode, b('hello\n')).toString()).toBe('Thanks\n');
    expect(answerFor(mode, b('hello\r\n')).toString()).toBe('Thanks\r\n');
    expect(answerFor(mode, b('')).toString()).toBe('Thanks');
  });

  it('prefix mode puts the text before the message, byte for byte', () => {
    const mode = { kind: 'prefix', text: '收到！' } as const;
    expect(answerFor(mode, b('你好\n'))).toEqual(Buffer.concat([b('收到！'), b('你好\n')]));
    expect(answerFor(mode, b('hi')).toString()).toBe('收到！hi');
  });

  it('recognises the seeds\' ## end marker and nothing else', () => {
    expect(isEndMarker(b('##'))).toBe(true);
    expect(isEndMarker(b('##\n'))).toBe(true);
    expect(isEndMarker(b('##\r\n'))).toBe(true);
    expect(isEndMarker(b('## '))).toBe(false);
    expect(isEndMarker(b('a##'))).toBe(false);
    expect(isEndMarker(b('#'))).toBe(false);
  });

  it('finds line endings', () => {
    expect(lineEnding(b(''))).toBe('');
    expect(lineEnding(b('\n'))).toBe('\n');
    expect(lineEnding(b('\r\n'))).toBe('\r\n');
    expect(lineEnding(b('\r'))).toBe('');
  });

  it('refuses reply and prefix together', () => {
    expect(() => modeFrom({ reply: 'a', prefix: 'b' })).toThrow(/one of/);
    expect(modeFrom({})).toEqual({ kind: 'echo' });
  });
});
