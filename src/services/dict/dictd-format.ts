/**
 * dictd's database format: `NAME.index` (one line per headword: `word TAB offset TAB length`,
 * numbers in dictd's base 64, and an optional 4th column with the headword as shown) and
 * `NAME.dict` or `NAME.dict.dz` (the definitions, plain or dictzip). Debian's `dict-*` packages
 * ship this format; `dictfmt` writes it.
 *
 * Loading keeps the index in memory and reads a definition when it is asked for: a positional
 * read of a `.dict`, or the dictzip chunks covering it.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { WharfError } from '../../core/errors.js';
import type { DatabaseStats, DictDatabase } from './database.js';
import { DictzipReader } from './dictzip.js';
import { compareKeys, HeadwordIndex, type IndexFlags } from './headwords.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/** dictd's base 64 numbers: big-endian digits `A`=0 … `/`=63. */
export function encodeB64Number(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a count of bytes: ${value}`);
  let out = '';
  let v = value;
  do {
    out = B64[v % 64]! + out;
    v = Math.floor(v / 64);
  } while (v > 0);
  return out;
}

export function decodeB64Number(text: string): number {
  const value = b64At(text, 0, text.length);
  return value < 0 ? Number.NaN : value;
}

/** The special headwords dictd reads its settings from. */
export const SPECIAL = {
  short: '00-database-short',
  long: '00-database-long',
  info: '00-database-info',
  url: '00-database-url',
  allChars: '00-database-allchars',
  utf8: '00-database-utf8',
  eightBit: '00-database-8bit-new',
  caseSensitive: '00-database-case-sensitive',
  alphabet: '00-database-alphabet',
} as const;

export interface ParsedIndex {
  /** Column 1 of each line. */
  keys: string[];
  /** Column 4 of each line, where there is one. */
  shown: Array<string | undefined>;
  offsets: Float64Array;
  lengths: Float64Array;
  /** Lines that were not `word TAB offset TAB length [TAB shown]`. */
  badLines: number;
  flags: IndexFlags;
  utf8Text: boolean;
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A base-64 number written in text[from, to), or -1. */
function b64At(text: string, from: number, to: number): number {
  if (to <= from) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const digit = c < 128 ? B64_VALUE[c]! : -1;
    if (digit < 0) return -1;
    value = value * 64 + digit;
  }
  return value;
}

/** Parse the bytes of a `.index` file. */
export function parseIndex(bytes: Buffer): ParsedIndex {
  const utf8Text = isValidUtf8(bytes);
  const text = bytes.toString(utf8Text ? 'utf8' : 'latin1');
  const keys: string[] = [];
  const shown: Array<string | undefined> = [];
  let offsets = new Float64Array(Math.max(16, bytes.length >> 4));
  let lengths = new Float64Array(offsets.length);
  let count = 0;
  let badLines = 0;
  let hasShown = false;
  let start = 0;
  const size = text.length;
  while (start < size) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = size;
    const lineEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (lineEnd > start) {
      const t1 = text.indexOf('\t', start);
      const t2 = t1 === -1 || t1 >= lineEnd ? -1 : text.indexOf('\t', t1 + 1);
      if (t2 === -1 || t2 >= lineEnd) {
        badLines++;
      } else {
        let t3 = text.indexOf('\t', t2 + 1);
        if (t3 >= lineEnd) t3 = -1;
        const offset = b64At(text, t1 + 1, t2);
        const length = b64At(text, t2 + 1, t3 === -1 ? lineEnd : t3);
        if (offset < 0 || length < 0) {
          badLines++;
        } else {
          if (count === offsets.length) {
            const grownOffsets = new Float64Array(count * 2);
            grownOffsets.set(offsets);
            offsets = grownOffsets;
            const grownLengths = new Float64Array(count * 2);
            grownLengths.set(lengths);
            lengths = grownLengths;
          }
          keys.push(text.slice(start, t1));
          if (t3 === -1) shown.push(undefined);
          else {
            shown.push(text.slice(t3 + 1, lineEnd));
            hasShown = true;
          }
          offsets[count] = offset;
          lengths[count] = length;
          count++;
        }
      }
    }
    start = end + 1;
  }
  const present = new Set<string>();
  for (const key of keys) if (key.length > 12 && key.startsWith('00-database-')) present.add(key);
  const flags: IndexFlags = {
    allChars: present.has(SPECIAL.allChars),
    utf8: present.has(SPECIAL.utf8),
    eightBit: present.has(SPECIAL.eightBit),
    caseSensitive: present.has(SPECIAL.caseSensitive),
  };
  return { keys, shown: hasShown ? shown : [], offsets: offsets.slice(0, count), lengths: lengths.slice(0, count), badLines, flags, utf8Text };
}

/** Where a `.index`'s definitions are: `.dict.dz` or `.dict` beside it. */
export function findDataFile(indexPath: string): string | undefined {
  const base = indexPath.endsWith('.index') ? indexPath.slice(0, -'.index'.length) : indexPath;
  for (const candidate of [`${base}.dict.dz`, `${base}.dict`]) if (existsSync(candidate)) return candidate;
  return undefined;
}

interface DataSource {
  read(offset: number, length: number): Buffer;
  readonly fileSize: number;
  readonly textLength: number;
  close(): void;
}

function openData(path: string): DataSource {
  if (path.endsWith('.dz') || path.endsWith('.gz')) {
    const reader = DictzipReader.open(path);
    return { read: (o, l) => reader.read(o, l), fileSize: reader.fileSize, textLength: reader.length, close: () => reader.close() };
  }
  const fd = openSync(path, 'r');
  const size = statSync(path).size;
  return {
    read(offset, length) {
      const out = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      if (out.length > 0) readSync(fd, out, 0, out.length, offset);
      return out;
    },
    fileSize: size,
    textLength: size,
    close: () => closeSync(fd),
  };
}

export interface OpenDictdOptions {
  name: string;
  indexPath: string;
  /** Default: `.dict.dz` or `.dict` beside the index. */
  dataPath?: string;
}

/** A dictd database: its index in memory, its definitions read on demand. */
export class DictdDatabase implements DictDatabase {
  readonly name: string;
  readonly description: string;
  readonly index: HeadwordIndex;
  readonly stats: DatabaseStats;
  readonly utf8: boolean;
  /** Lines of the index that were skipped as malformed. */
  readonly badLines: number;
  readonly #offsets: Float64Array;
  readonly #lengths: Float64Array;
  readonly #data: DataSource;
  readonly #encoding: BufferEncoding;

  private constructor(name: string, parsed: ParsedIndex, data: DataSource, indexBytes: number) {
    this.name = name;
    this.#data = data;
    this.#encoding = parsed.utf8Text || parsed.flags.utf8 ? 'utf8' : 'latin1';
    this.utf8 = this.#encoding === 'utf8';
    this.badLines = parsed.badLines;
    this.#offsets = parsed.offsets;
    this.#lengths = parsed.lengths;
    const alphabetEntry = parsed.keys.indexOf(SPECIAL.alphabet);
    let alphabet: string | undefined;
    if (alphabetEntry !== -1) alphabet = this.#stripHeadword(SPECIAL.alphabet, this.#text(alphabetEntry)).replace(/\s+/g, '');
    this.index = new HeadwordIndex(parsed.keys, { shown: parsed.shown, flags: parsed.flags, alphabet: alphabet || undefined });
    this.stats = { headwords: parsed.keys.length, indexBytes, dataBytes: data.fileSize, textBytes: data.textLength };
    this.description = this.#special(SPECIAL.short)?.split('\n')[0]?.trim() || name;
  }

  static open(options: OpenDictdOptions): DictdDatabase {
    const dataPath = options.dataPath ?? findDataFile(options.indexPath);
    if (!dataPath) throw new WharfError('EMISSING', `${options.indexPath}: no .dict.dz or .dict beside it`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(options.indexPath);
    } catch (error) {
      throw new WharfError('EMISSING', `cannot read ${options.indexPath}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    const parsed = parseIndex(bytes);
    if (parsed.keys.length === 0) throw new WharfError('EFORMAT', `${options.indexPath}: no index lines (word TAB offset TAB length)`);
    const data = openData(dataPath);
    return new DictdDatabase(options.name, parsed, data, bytes.length);
  }

  /** A database from an index and definitions in memory (a seed text file converted on the fly). */
  static fromBuffers(name: string, written: WrittenDatabase): DictdDatabase {
    const parsed = parseIndex(written.index);
    const dict = written.dict;
    const data: DataSource = { read: (o, l) => dict.subarray(o, o + l), fileSize: dict.length, textLength: dict.length, close: () => {} };
    return new DictdDatabase(name, parsed, data, written.index.length);
  }

  definition(entry: number): string {
    return this.#text(this.index.source(entry));
  }

  sameDefinition(a: number, b: number): boolean {
    const x = this.index.source(a);
    const y = this.index.source(b);
    return this.#offsets[x] === this.#offsets[y] && this.#lengths[x] === this.#lengths[y];
  }

  info(): string {
    const entries = this.index.exact(SPECIAL.info, 1);
    const text = entries.length > 0 ? this.definition(entries[0]!) : 'No information available\n';
    return `============ ${this.name} ============\n${text}\n`;
  }

  close(): void {
    this.#data.close();
  }

  #text(source: number): string {
    return this.#data.read(this.#offsets[source]!, this.#lengths[source]!).toString(this.#encoding);
  }

  /** A special entry's text without its headword line, trimmed (dictd's short name, alphabet...). */
  #special(name: string): string | undefined {
    const entries = this.index.exact(name, 1);
    if (entries.length === 0) return undefined;
    return this.#stripHeadword(name, this.definition(entries[0]!)).trim();
  }

  #stripHeadword(name: string, text: string): string {
    let body = text;
    const shortName = name.replace(/-/g, '');
    for (const prefix of [name, shortName]) {
      if (body.startsWith(prefix)) {
        body = body.slice(prefix.length);
        break;
      }
    }
    return body.replace(/^\s+/, '');
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface WrittenDatabase {
  index: Buffer;
  dict: Buffer;
}

export interface DictdEntry {
  /** The headword as shown. */
  headword: string;
  /** The definition text; by convention its first line is the headword. */
  text: string;
}

/**
 * Build a UTF-8, all-characters dictd database (`00-database-utf8`, `00-database-allchars`):
 * column 1 is the headword lowered, column 4 the headword when it differs, sorted by column 1's
 * bytes, as dictd expects. dictd itself serves the result unchanged.
 */
export function writeDictdDatabase(entries: readonly DictdEntry[], meta: { short: string; info?: string; url?: string }): WrittenDatabase {
  const special: DictdEntry[] = [
    { headword: SPECIAL.allChars, text: '\n' },
    { headword: SPECIAL.utf8, text: '\n' },
    { headword: SPECIAL.short, text: `${SPECIAL.short}\n     ${meta.short}\n` },
  ];
  if (meta.info !== undefined) special.push({ headword: SPECIAL.info, text: `${SPECIAL.info}\n${meta.info.endsWith('\n') ? meta.info : `${meta.info}\n`}` });
  if (meta.url !== undefined) special.push({ headword: SPECIAL.url, text: `${SPECIAL.url}\n${meta.url}\n` });
  const all = [...special, ...entries];
  const parts: Buffer[] = [];
  const lines: Array<{ key: string; line: string; order: number }> = [];
  let offset = 0;
  all.forEach((entry, order) => {
    const bytes = Buffer.from(entry.text, 'utf8');
    parts.push(bytes);
    const key = lowerHeadword(entry.headword);
    const shown = key === entry.headword ? '' : `\t${entry.headword}`;
    lines.push({ key, line: `${key}\t${encodeB64Number(offset)}\t${encodeB64Number(bytes.length)}${shown}\n`, order });
    offset += bytes.length;
  });
  lines.sort((a, b) => compareKeys(a.key, b.key) || a.order - b.order);
  return { index: Buffer.from(lines.map((l) => l.line).join(''), 'utf8'), dict: Buffer.concat(parts) };
}

/** White space to single spaces, letters lowered one for one (what dictd does to a query). */
export function lowerHeadword(headword: string): string {
  let out = '';
  for (const ch of headword.replace(/[\t\n\r\v\f]/g, ' ')) {
    const lower = ch.toLowerCase();
    out += Array.from(lower).length === 1 ? lower : ch;
  }
  return out;
}
