/** HASH (draft-bryan-ftpext-hash) and RANG (draft-bryan-ftp-range), pure. */

export const HASH_ALGORITHMS = ['SHA-1', 'SHA-256', 'SHA-512', 'MD5'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];
export const DEFAULT_HASH: HashAlgorithm = 'SHA-256';

/** `sha-256` → `SHA-256`; undefined for an algorithm this server does not have. */
export function hashAlgorithmNamed(text: string): HashAlgorithm | undefined {
  const upper = text.trim().toUpperCase();
  return HASH_ALGORITHMS.find((name) => name === upper);
}

/** The name node:crypto knows the algorithm by. */
export function nodeHashName(algorithm: HashAlgorithm): string {
  return algorithm.replace('-', '').toLowerCase();
}

/** Inclusive byte range, as RANG and the HASH reply write it (`0-49` is the first 50 bytes). */
export interface ByteRange {
  start: number;
  end: number;
}

const DECIMAL = /^\d{1,16}$/;

/** `RANG <start> <end>`: a range, `clear` for the draft's reset (`RANG 1 0`), or why not. */
export function parseRangArgument(argument: string): { ok: true; range: ByteRange | 'clear' } | { ok: false; message: string } {
  const parts = argument.trim().split(/\s+/);
  if (parts.length !== 2 || !parts.every((part) => DECIMAL.test(part))) return { ok: false, message: 'Syntax: RANG <start> <end> (byte offsets).' };
  const [start, end] = parts.map(Number) as [number, number];
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { ok: false, message: 'RANG offsets are too large.' };
  if (start === 1 && end === 0) return { ok: true, range: 'clear' };
  if (end < start) return { ok: false, message: 'RANG: the end is before the start.' };
  return { ok: true, range: { start, end } };
}

/** The range a HASH covers in a file of `size` bytes: the asked one cut at the end of the file. */
export function hashRangeFor(size: number, asked: ByteRange | undefined): ByteRange | undefined {
  if (!asked) return { start: 0, end: Math.max(0, size - 1) };
  if (asked.start >= size && !(asked.start === 0 && size === 0)) return undefined;
  return { start: asked.start, end: Math.min(asked.end, Math.max(0, size - 1)) };
}

/** The text of a 213 HASH reply: `SHA-256 0-49 <hex> <path>`. */
export function formatHashReply(algorithm: HashAlgorithm, range: ByteRange, hex: string, path: string): string {
  return `${algorithm} ${range.start}-${range.end} ${hex} ${path}`;
}

export interface HashReply {
  algorithm: string;
  range: ByteRange;
  hex: string;
  path: string;
}

/** A 213 HASH reply's text, or undefined when it is not one. */
export function parseHashReply(text: string): HashReply | undefined {
  const match = /^(\S+) (\d{1,16})-(\d{1,16}) ([0-9a-fA-F]+) (.*)$/.exec(text.trim());
  if (!match) return undefined;
  return { algorithm: (match[1] as string).toUpperCase(), range: { start: Number(match[2]), end: Number(match[3]) }, hex: (match[4] as string).toLowerCase(), path: match[5] as string };
}

/** A FEAT `HASH` line's parameters (`SHA-1;SHA-256*;MD5`): the algorithms and the selected one. */
export function parseHashFeature(parameters: string): { algorithms: string[]; selected: string | undefined } {
  const names = parameters.split(';').map((name) => name.trim()).filter(Boolean);
  const selected = names.find((name) => name.endsWith('*'))?.slice(0, -1).toUpperCase();
  return { algorithms: names.map((name) => name.replace(/\*$/, '').toUpperCase()), selected };
}
