/**
 * The seed's dictionary file (seed 000 §11: the `words(word, mean)` table was filled from a text
 * file): one entry per line, the word, white space, then its meaning.
 *
 *     abandon          v. go away from (a person or thing or place) not intending to return
 *     café             a small restaurant selling light meals and drinks
 *
 * Converted to a dictd database (UTF-8, all characters significant), so that wharf and dictd
 * both serve it. Each definition is the headword line, then the meaning indented and wrapped.
 */
import type { DictdEntry } from './dictd-format.js';
import { wrap } from './textwrap.js';

export interface SeedTextResult {
  entries: DictdEntry[];
  /** Lines with a word and no meaning, skipped. */
  skipped: number[];
}

/** Parse the seed's `word meaning` lines (UTF-8; blank lines and `#` comments ignored). */
export function parseSeedText(text: string): SeedTextResult {
  const entries: DictdEntry[] = [];
  const skipped: number[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(\S+)\s+(.+)$/u.exec(line);
    if (!match) {
      skipped.push(i + 1);
      return;
    }
    const [, headword, meaning] = match as unknown as [string, string, string];
    entries.push({ headword, text: formatMeaning(headword, meaning) });
  });
  return { entries, skipped };
}

export function formatMeaning(headword: string, meaning: string): string {
  const lines = wrap(meaning.trim(), 68, '    ', '    ');
  return `${headword}\n${lines.join('\n')}\n`;
}
