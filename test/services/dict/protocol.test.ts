import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bannerLine,
  decodeSaslPlain,
  definitionsOf,
  encodeSaslPlain,
  formatHistoryLine,
  matchList,
  pairsOf,
  parseCommandBytes,
  parseCommandLine,
  parseHistoryLine,
  quoteArgument,
  quoteWord,
  ResponseReader,
  textBlock,
  unstuffLines,
  type TextReply,
} from '../../../src/services/dict/protocol.js';

describe('command lines (RFC 2229 §2.2)', () => {
  it('splits words on spaces and tabs', () => {
    expect(parseCommandLine('DEFINE  wn\thello ')).toEqual({ ok: true, words: ['DEFINE', 'wn', 'hello'] });
    expect(parseCommandLine('   ')).toEqual({ ok: true, words: [] });
  });

  it('takes double- and single-quoted words, and backslash escapes like dictd', () => {
    expect(parseCommandLine('DEFINE * "hell to pay"')).toEqual({ ok: true, words: ['DEFINE', '*', 'hell to pay'] });
    expect(parseCommandLine("MATCH wn prefix 'it\\'")).toEqual({ ok: true, words: ['MATCH', 'wn', 'prefix', 'it\\'] });
    expect(parseCommandLine('DEFINE wn "say \\"hi\\""')).toEqual({ ok: true, words: ['DEFINE', 'wn', 'say "hi"'] });
    expect(parseCommandLine('DEFINE wn a\\ b')).toEqual({ ok: true, words: ['DEFINE', 'wn', 'a b'] });
    expect(parseCommandLine('DEFINE wn ""')).toEqual({ ok: true, words: ['DEFINE', 'wn', ''] });
    expect(parseCommandLine('DEFINE wn ab"c d"e')).toEqual({ ok: true, words: ['DEFINE', 'wn', 'abc de'] });
  });

  it('unescapes bytes before decoding UTF-8, as curl escapes every byte of a non-ASCII word', () => {
    const curl = Buffer.concat([Buffer.from('DEFINE seed caf'), Buffer.from([0x5c, 0xc3, 0x5c, 0xa9])]);
    expect(parseCommandBytes(curl)).toEqual({ ok: true, words: ['DEFINE', 'seed', 'café'] });
    expect(parseCommandBytes(Buffer.from('MATCH * prefix "你好 x"'))).toEqual({ ok: true, words: ['MATCH', '*', 'prefix', '你好 x'] });
    // Not UTF-8: one character per byte, for Latin-1 databases.
    expect(parseCommandBytes(Buffer.from([0x44, 0x20, 0xe9]))).toEqual({ ok: true, words: ['D', 'é'] });
  });

  it('refuses an unterminated quote or a trailing backslash', () => {
    expect(parseCommandLine('DEFINE wn "open').ok).toBe(false);
    expect(parseCommandLine("DEFINE wn 'open").ok).toBe(false);
    expect(parseCommandLine('DEFINE wn x\\').ok).toBe(false);
  });

  it('quoteArgument gives back the same word after parsing (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }), { minLength: 1, maxLength: 4 }), (words) => {
        const clean = words.map((w) => w.replace(/[\r\n\t\v\f]/g, ''));
        const parsed = parseCommandLine(clean.map(quoteArgument).join(' '));
        expect(parsed).toEqual({ ok: true, words: clean });
      }),
    );
  });

  it('quotes headwords with " and \\ escaped', () => {
    expect(quoteWord('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
  });
});

describe('text blocks', () => {
  it('ends every line with CRLF, doubles leading dots, and closes with a dot line', () => {
    expect(textBlock('hello\n.22\n..x\n.\nlast')).toBe('hello\r\n..22\r\n...x\r\n..\r\nlast\r\n.\r\n');
    expect(textBlock('.start\n')).toBe('..start\r\n.\r\n');
    expect(textBlock('')).toBe('.\r\n');
    expect(textBlock('crlf\r\nalready\r\n')).toBe('crlf\r\nalready\r\n.\r\n');
  });

  it('unstuffing gives back the text (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[.a-z ]{0,6}$/), { minLength: 1, maxLength: 8 }), (lines) => {
        const block = textBlock(`${lines.join('\n')}\n`);
        const sent = block.split('\r\n');
        expect(sent.pop()).toBe('');
        expect(sent.pop()).toBe('.');
        expect(sent.includes('.')).toBe(false);
        expect(unstuffLines(sent)).toEqual(lines);
      }),
    );
  });

  it('lists matches once per consecutive repeat, as dictd does', () => {
    const text = matchList([
      { database: 'wn', word: 'a' },
      { database: 'wn', word: 'a' },
      { database: 'x', word: 'a' },
    ]);
    expect(text).toBe('152 2 matches found\r\nwn "a"\r\nx "a"\r\n.\r\n250 ok\r\n');
  });
});

describe('reading responses', () => {
  it('groups 1yz lines, text blocks and the final status', () => {
    const reader = new ResponseReader();
    const lines = ['150 2 definitions retrieved', '151 "hello" wn "WordNet"', 'hello', '..22', '.', '151 "hello" x "X"', 'hi', '.', '250 ok'];
    let response;
    for (const line of lines) response = reader.push(line) ?? response;
    expect(response!.final).toEqual({ code: 250, text: 'ok' });
    expect(definitionsOf(response!)).toEqual([
      { word: 'hello', database: 'wn', description: 'WordNet', text: 'hello\n.22' },
      { word: 'hello', database: 'x', description: 'X', text: 'hi' },
    ]);
    expect(reader.push('552 no match')?.preliminary).toEqual([]);
  });

  it('skips the MIME header of each text block when MIME is on', () => {
    const reader = new ResponseReader();
    reader.mime = true;
    let response;
    for (const line of ['152 1 matches found', '', 'wn "hello"', '.', '250 ok']) response = reader.push(line) ?? response;
    expect(pairsOf(response!.preliminary[0] as TextReply)).toEqual([{ name: 'wn', value: 'hello' }]);
  });

  it('parses the greeting', () => {
    const line = bannerLine('host wharf 1.0', ['mime', 'sasl'], '<1.2.3@host>').trimEnd();
    expect(ResponseReader.banner(line)).toEqual({ status: { code: 220, text: 'host wharf 1.0 <mime.sasl> <1.2.3@host>' }, capabilities: ['mime', 'sasl'], msgId: '<1.2.3@host>' });
  });

  it('refuses a line that is not DICT', () => {
    expect(() => new ResponseReader().push('HTTP/1.1 200 OK')).toThrow(/not a DICT status line/);
  });
});

describe('SASL PLAIN', () => {
  it('round-trips credentials, Unicode included', () => {
    const encoded = encodeSaslPlain('zoë', 'pässwörd 1');
    expect(decodeSaslPlain(encoded)).toEqual({ ok: true, authzid: '', user: 'zoë', password: 'pässwörd 1' });
  });

  it('refuses what is not base64 of authzid NUL user NUL password', () => {
    expect(decodeSaslPlain('not base64!').ok).toBe(false);
    expect(decodeSaslPlain(Buffer.from('user\0pass').toString('base64')).ok).toBe(false);
    expect(decodeSaslPlain(Buffer.from('a\0b\0c\0d').toString('base64')).ok).toBe(false);
    expect(decodeSaslPlain(Buffer.from([0, 0xff, 0, 0x41]).toString('base64')).ok).toBe(false);
  });
});

describe('history lines', () => {
  it('are the seed\'s `name word time`, quoted where needed, and parse back', () => {
    const entry = { account: 'alice', word: 'hell to pay', database: 'wn', at: new Date('2024-05-01T12:34:56Z') };
    expect(formatHistoryLine(entry)).toBe('alice "hell to pay" wn 2024-05-01 12:34:56Z');
    expect(parseHistoryLine(formatHistoryLine(entry))).toEqual(entry);
  });
});
