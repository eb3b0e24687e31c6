/**
 * The JSON the portal's dictionary API answers (`/portal/api/dict/…`), shared by the server side
 * (section.ts) and the page (browser/page.ts). Types only.
 */
import type { DefinitionSegment } from './cross-references.js';

export type { DefinitionSegment };

/** One database's headwords for a MATCH, in index order. */
export interface DatabaseMatches {
  readonly database: string;
  readonly words: readonly string[];
}

/** GET /match?q=&strategy=&db=&limit= */
export interface MatchAnswer {
  readonly query: string;
  readonly strategy: string;
  readonly matches: readonly DatabaseMatches[];
}

export interface DefinitionAnswer {
  readonly database: string;
  readonly description: string;
  /** The headword as the database shows it. */
  readonly headword: string;
  /** The text as `dict` shows it (its headword line first), with its cross-references as links. */
  readonly segments: readonly DefinitionSegment[];
}

/** GET /define?word=&db= */
export interface DefineAnswer {
  readonly word: string;
  readonly definitions: readonly DefinitionAnswer[];
  /** When nothing is defined: headwords within one edit (`lev`), as `dict` offers them. */
  readonly suggestions: readonly DatabaseMatches[];
  /** The lookup went into the account's history. */
  readonly recorded: boolean;
}

/** GET /databases */
export interface DatabasesAnswer {
  readonly databases: ReadonlyArray<{ readonly name: string; readonly description: string }>;
}

/** GET /strategies */
export interface StrategiesAnswer {
  readonly strategies: ReadonlyArray<{ readonly name: string; readonly description: string }>;
  /** What `.` means: dictd's default, `lev`. */
  readonly default: string;
}

/** One lookup of the signed-in account (the seed's `H`, `XHISTORY`, `wharf dict`'s history). */
export interface HistoryEntry {
  readonly word: string;
  /** The database asked (`*` for all). */
  readonly database: string;
  /** ISO 8601. */
  readonly at: string;
}

/** GET /history?limit= (signed-in accounts only): newest first. */
export interface HistoryAnswer {
  readonly history: readonly HistoryEntry[];
}
