/**
 * What the server needs of a dictionary, whatever its source: the headword index, the text of
 * each entry, and what SHOW DB / SHOW INFO / SHOW SERVER say about it.
 */
import type { HeadwordIndex } from './headwords.js';

export interface DatabaseStats {
  headwords: number;
  /** Bytes of the index as stored. */
  indexBytes: number;
  /** Bytes of the definitions as stored (compressed for .dict.dz). */
  dataBytes: number;
  /** Bytes of the definitions uncompressed. */
  textBytes: number;
}

export interface DictDatabase {
  /** The name clients use (`wn`). */
  readonly name: string;
  /** One line for SHOW DB and the 151 lines. */
  readonly description: string;
  readonly index: HeadwordIndex;
  /** Text of entry `entry` (a sorted index position), `\n` line ends, its headword line first. */
  definition(entry: number): string;
  /** Do two entries point at the same text? (dictd shows such consecutive entries once.) */
  sameDefinition(a: number, b: number): boolean;
  /** The text of SHOW INFO. */
  info(): string;
  readonly stats: DatabaseStats;
  /** UTF-8 text (for the MIME header of OPTION MIME). */
  readonly utf8: boolean;
  close(): void;
}

/** A name clients can send as one word, and not one of the DICT wildcards `*` and `!`. */
export function databaseNameProblem(name: string): string | undefined {
  if (name === '') return 'a database name cannot be empty';
  if (name === '*' || name === '!') return `"${name}" is DICT's wildcard, not a name`;
  if (/[\s"'\\]/.test(name)) return 'a database name cannot contain spaces, quotes or backslashes';
  if (name.length > 64) return 'a database name is at most 64 characters';
  return undefined;
}
