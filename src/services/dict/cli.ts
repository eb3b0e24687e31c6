import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { DATA_FOLDER_HELP, addHostOptions, collect, dataFolder, exitInterrupted, port, type CliContext } from '../../cli-kit/index.js';
import { UsageError, WharfError } from '../../core/errors.js';
import { DictClient, DictError } from './client.js';
import { databaseNameProblem } from './database.js';
import { DICT_FOLDER, openDatabase } from './databases.js';
import { findDataFile, writeDictdDatabase } from './dictd-format.js';
import { formatHistoryTime, type DefinitionReply } from './protocol.js';
import { parseSeedText } from './seed-text.js';

interface ClientFlags {
  host: string;
  port: number;
  database: string;
  match?: boolean;
  strategy: string;
  dbs?: boolean;
  strats?: boolean;
  serverinfo?: boolean;
  info?: string;
  timeout: number;
}

/** The exit statuses of the `dict` client: no match, and "no match, but perhaps you mean". */
const EXIT_NO_MATCH = 20;
const EXIT_APPROXIMATE = 21;

/**
 * `wharf dict`: the DICT client (`wharf dict WORD`, like `dict`), the server (`wharf dict
 * serve`), the importer (`wharf dict import`), and with no word the seed's interactive flow.
 */
export function registerDictCli(program: Command, ctx: CliContext): void {
  const dict = program
    .command('dict')
    .description('DICT (RFC 2229) dictionary: look up WORD like `dict`; with no word, the interactive register / log in / look up / history menu')
    .argument('[word...]', 'words to look up (quote a phrase: "hell to pay")')
    .option('-H, --host <host>', 'server address', '127.0.0.1')
    .addOption(new Option('-p, --port <port>', 'server port').argParser(port).default(2628))
    .option('-d, --database <db>', 'database to search (* every one, ! the first that has the word)', '*')
    .option('-m, --match', 'list matching headwords instead of definitions')
    .option('-s, --strategy <strategy>', 'matching strategy for -m (see -S; . is the server default)', '.')
    .option('-D, --dbs', 'list the databases')
    .option('-S, --strats', 'list the matching strategies')
    .option('-I, --serverinfo', 'show the server information')
    .option('-i, --info <db>', 'show information about a database')
    .addOption(new Option('--timeout <ms>', 'how long to wait for each answer').argParser(Number).default(10_000));
  dict.action(async (words: string[], flags: ClientFlags) => {
    const code = await runClient(words, flags);
    ctx.setExitCode(code);
  });

  dict
    .command('define')
    .description('look up words, also those that are verbs of `wharf dict` (wharf dict define serve); the flags go before `define`')
    .argument('<word...>', 'words to look up')
    .action(async (words: string[], _flags: unknown, command: Command) => {
      ctx.setExitCode(await runClient(words, command.parent!.opts<ClientFlags>()));
    });

  const serveCommand = dict
    .command('serve')
    .description('run the DICT server (default port 2628) with WordNet 3.1, the databases in <data>/dict and those given with --database')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1)')
    .addOption(new Option('-p, --port <port>', 'listen port (default 2628)').argParser(port))
    .option('--database <name=path>', 'serve another database: a dictd .index (with .dict or .dict.dz), a WordNet folder or a seed "word meaning" file (repeatable)', collect, [] as string[])
    .option('--no-wordnet', 'do not serve the embedded WordNet 3.1 as wn')
    .option('--seed-protocol', "also serve the seed dictionary client's own protocol (R/L/Q/H/E) on TCP 8888")
    .addOption(new Option('--seed-port <port>', 'TCP port of the seed protocol (implies --seed-protocol; default 8888)').argParser(port));
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    const databases = (flags.database as string[]).map((spec) => {
      const at = spec.indexOf('=');
      if (at < 1 || at === spec.length - 1) throw new UsageError(`--database ${spec}: expected NAME=PATH, e.g. --database wn30=/usr/share/dictd/wn.index`);
      return { name: spec.slice(0, at), path: spec.slice(at + 1) };
    });
    await ctx.serve(['dict'], command, {
      dict: {
        host: flags.host,
        port: flags.port,
        databases: databases.length > 0 ? databases : undefined,
        wordnet: flags.wordnet === false ? false : undefined,
        seedProtocol: flags.seedProtocol === true || flags.seedPort !== undefined ? true : undefined,
        seedPort: flags.seedPort,
      },
    });
  });

  dict
    .command('import')
    .description('copy a dictd database (.index with .dict or .dict.dz, e.g. from Debian\'s dict-* packages) or convert a seed "word meaning" text file into <data>/dict, where `wharf dict serve` finds it')
    .argument('<file>', 'a .index, .dict, .dict.dz or text file')
    .requiredOption('--name <db>', 'the database name clients will use')
    .option('--description <text>', 'the one-line description (text files; default: the name and file)')
    .option('--data <dir>', DATA_FOLDER_HELP)
    .option('-f, --force', 'replace a database of the same name')
    .action((file: string, flags: { name: string; description?: string; data?: string; force?: boolean }) => {
      const dataDir = dataFolder(flags.data, process.env);
      const result = importDatabase(file, { name: flags.name, description: flags.description, dataDir, force: flags.force ?? false });
      process.stdout.write(`${result}\n`);
    });
}

// ---------------------------------------------------------------------------------------------
// import

export interface ImportOptions {
  name: string;
  dataDir: string;
  description?: string;
  force: boolean;
}

/** Put a database into `<dataDir>/dict/NAME.*`; returns a sentence saying what was done. */
export function importDatabase(file: string, options: ImportOptions): string {
  const problem = databaseNameProblem(options.name);
  if (problem || /[/\\]/.test(options.name) || options.name.startsWith('.')) throw new UsageError(`--name ${options.name}: ${problem ?? 'a database name cannot contain slashes or start with a dot'}`);
  if (!existsSync(file)) throw new UsageError(`${file} does not exist`);
  const dir = path.join(options.dataDir, DICT_FOLDER);
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, options.name);
  if (!options.force && existsSync(`${target}.index`)) throw new UsageError(`a database named ${options.name} is already imported (${target}.index); use --force to replace it`);

  let indexPath: string | undefined;
  let dataPath: string | undefined;
  if (file.endsWith('.index')) {
    indexPath = file;
    dataPath = findDataFile(file);
    if (!dataPath) throw new UsageError(`${file}: no .dict.dz or .dict beside it`);
  } else if (file.endsWith('.dict.dz') || file.endsWith('.dict')) {
    dataPath = file;
    indexPath = `${file.slice(0, file.endsWith('.dz') ? -'.dict.dz'.length : -'.dict'.length)}.index`;
    if (!existsSync(indexPath)) throw new UsageError(`${file}: no ${path.basename(indexPath)} beside it`);
  }
  // Write beside the target, check that it loads, then move into place.
  const staging = path.join(dir, `.${options.name}.importing`);
  let summary: string;
  let files: Array<[string, string]>;
  if (indexPath && dataPath) {
    const dataSuffix = dataPath.endsWith('.dz') ? '.dict.dz' : '.dict';
    copyFileSync(indexPath, `${staging}.index`);
    copyFileSync(dataPath, `${staging}${dataSuffix}`);
    files = [[`${staging}.index`, `${target}.index`], [`${staging}${dataSuffix}`, `${target}${dataSuffix}`]];
    summary = `copied the dictd database ${path.basename(indexPath)}`;
  } else {
    const parsed = parseSeedText(readFileSync(file, 'utf8'));
    if (parsed.entries.length === 0) throw new UsageError(`${file}: no "word meaning" lines found`);
    const written = writeDictdDatabase(parsed.entries, { short: options.description ?? `${options.name} (${path.basename(file)})`, info: `Converted by wharf from ${path.basename(file)} (${parsed.entries.length} entries).` });
    writeFileSync(`${staging}.index`, written.index);
    writeFileSync(`${staging}.dict`, written.dict);
    files = [[`${staging}.index`, `${target}.index`], [`${staging}.dict`, `${target}.dict`]];
    summary = `converted ${parsed.entries.length} entries of ${path.basename(file)}${parsed.skipped.length > 0 ? ` (skipped lines without a meaning: ${parsed.skipped.slice(0, 10).join(', ')}${parsed.skipped.length > 10 ? ', ...' : ''})` : ''}`;
  }
  let headwords: number;
  try {
    const db = openDatabase({ name: options.name, path: `${staging}.index` });
    headwords = db.stats.headwords;
    db.close();
  } catch (error) {
    throw new WharfError('EFORMAT', `${file} is not a usable database: ${(error as Error).message}`);
  }
  // A data file of another kind left by an earlier import of this name would be read instead.
  for (const suffix of ['.dict', '.dict.dz']) {
    const stale = `${target}${suffix}`;
    if (!files.some(([, to]) => to === stale)) rmSync(stale, { force: true });
  }
  for (const [from, to] of files) renameSync(from, to);
  // The server loads <data>/dict once, at start: reloading under running lookups is not worth its risk.
  return `${summary} into ${target}.index (${headwords} headwords); \`wharf dict serve\` serves it as ${options.name} (a server already running offers it after a restart)`;
}

// ---------------------------------------------------------------------------------------------
// the `dict`-like client

function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? '' : by + line))
    .join('\n');
}

/** `dict`'s layout of headwords: `db:  word  "two words"`, wrapped. */
export function formatMatches(matches: Array<{ database: string; word: string }>, width = 68): string {
  const lines: string[] = [];
  const byDatabase = new Map<string, string[]>();
  for (const m of matches) byDatabase.set(m.database, [...(byDatabase.get(m.database) ?? []), m.word]);
  for (const [database, words] of byDatabase) {
    let line = `${database}:`;
    for (const word of words) {
      const token = /\s/.test(word) ? `"${word}"` : word;
      if (line.length + 2 + token.length > width && line.trim() !== `${database}:`) {
        lines.push(line);
        line = `  ${token}`;
      } else {
        line += `  ${token}`;
      }
    }
    lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}

export function formatDefinitions(definitions: readonly DefinitionReply[]): string {
  let out = `${definitions.length} definition${definitions.length === 1 ? '' : 's'} found\n`;
  for (const d of definitions) out += `\nFrom ${d.description} [${d.database}]:\n\n${indent(d.text.replace(/\n+$/, ''))}\n`;
  return out;
}

async function runClient(words: string[], flags: ClientFlags): Promise<number> {
  const listing = flags.dbs || flags.strats || flags.serverinfo || flags.info !== undefined;
  if (words.length === 0 && !listing) return interactive({ host: flags.host, port: flags.port, timeoutMs: flags.timeout });
  const client = await DictClient.connect({ host: flags.host, port: flags.port, timeoutMs: flags.timeout });
  const out = (text: string) => process.stdout.write(text);
  try {
    if (flags.dbs) out(`Databases available:\n${(await client.databases()).map((d) => ` ${d.name.padEnd(10)} ${d.description}\n`).join('')}`);
    if (flags.strats) out(`Strategies available:\n${(await client.strategies()).map((s) => ` ${s.name.padEnd(10)} ${s.description}\n`).join('')}`);
    if (flags.serverinfo) out(`${indent(await client.serverInfo())}\n`);
    if (flags.info !== undefined) out(`${indent(await client.info(flags.info))}\n`);
    let code = 0;
    for (const word of words) {
      if (flags.match) {
        const matches = await client.match(word, { database: flags.database, strategy: flags.strategy });
        if (matches.length === 0) {
          process.stderr.write(`No matches found for "${word}"\n`);
          code = Math.max(code, EXIT_NO_MATCH);
        } else out(formatMatches(matches));
        continue;
      }
      const definitions = await client.define(word, flags.database);
      if (definitions.length > 0) {
        out(formatDefinitions(definitions));
        continue;
      }
      const suggestions = await client.match(word, { database: flags.database, strategy: '.' });
      if (suggestions.length === 0) {
        process.stderr.write(`No definitions found for "${word}"\n`);
        code = Math.max(code, EXIT_NO_MATCH);
      } else {
        out(`No definitions found for "${word}", perhaps you mean:\n${formatMatches(suggestions)}`);
        code = Math.max(code, EXIT_APPROXIMATE);
      }
    }
    return code;
  } catch (error) {
    if (error instanceof DictError && (error.status === 550 || error.status === 551)) throw new UsageError(error.message);
    throw error;
  } finally {
    await client.quit();
  }
}

// ---------------------------------------------------------------------------------------------
// the seed's interactive flow (seed 000 §11: menu 1 register / 2 log in / 3 quit, then
// 1 look up / 2 history / 3 log out; `##` ends the lookup loop; password typed twice)

/** Questions and answers on a terminal or a pipe; a secret is not echoed on a terminal. */
export class Prompter {
  readonly #lines: string[] = [];
  readonly #waiters: Array<(line: string | undefined) => void> = [];
  readonly #rl: Interface;
  readonly #output: NodeJS.WritableStream;
  readonly #terminal: boolean;
  #muted = false;
  #ended = false;

  constructor(input: NodeJS.ReadableStream & { isTTY?: boolean }, output: NodeJS.WritableStream) {
    this.#output = output;
    this.#terminal = input.isTTY === true;
    // readline echoes what is typed through its output: a secret is read with that echo muted.
    const echo = new Writable({
      write: (chunk, _encoding, callback) => {
        if (!this.#muted) output.write(chunk as Buffer);
        callback();
      },
    });
    this.#rl = createInterface({ input, output: echo, terminal: this.#terminal, historySize: 0 });
    // On a terminal readline takes Ctrl-C itself (no SIGINT reaches the process): end as it would.
    this.#rl.on('SIGINT', exitInterrupted);
    this.#rl.on('line', (line) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
    this.#rl.on('close', () => {
      this.#ended = true;
      for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    });
  }

  /** Print `question`, resolve with the next line (undefined at the end of input). */
  ask(question: string): Promise<string | undefined> {
    this.#output.write(question);
    return this.#next();
  }

  async secret(question: string): Promise<string | undefined> {
    this.#output.write(question);
    this.#muted = this.#terminal;
    try {
      return await this.#next();
    } finally {
      if (this.#muted) this.#output.write('\n');
      this.#muted = false;
    }
  }

  close(): void {
    this.#rl.close();
  }

  #next(): Promise<string | undefined> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

export interface InteractiveOptions {
  host: string;
  port: number;
  timeoutMs?: number;
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  output?: NodeJS.WritableStream;
}

const MAIN_MENU = `
======== wharf dictionary ========
 1. register   2. log in   3. quit
==================================
`;

function userMenu(name: string): string {
  return `
=========== look-up menu ===========
 1. look up   2. history   3. log out
==================== user: ${name} ==
`;
}

/** The seed's client, over DICT. Resolves with the exit status. */
export async function interactive(options: InteractiveOptions): Promise<number> {
  const output = options.output ?? process.stdout;
  const say = (text: string) => output.write(text);
  const client = await DictClient.connect({ host: options.host, port: options.port, timeoutMs: options.timeoutMs });
  const prompter = new Prompter(options.input ?? process.stdin, output);
  try {
    while (true) {
      say(MAIN_MENU);
      const choice = await prompter.ask('command: ');
      if (choice === undefined || choice.trim() === '3') {
        say('Thanks for using the dictionary.\n');
        return 0;
      }
      if (choice.trim() === '1') await register(client, prompter, say);
      else if (choice.trim() === '2') {
        const name = await login(client, prompter, say);
        if (name !== undefined && (await lookups(client, prompter, say, name)) === 'eof') return 0;
      } else say('Please enter 1, 2 or 3.\n');
    }
  } finally {
    prompter.close();
    await client.quit();
  }
}

async function register(client: DictClient, prompter: Prompter, say: (text: string) => void): Promise<void> {
  while (true) {
    const name = await prompter.ask('Name: ');
    const password = await prompter.secret('Password: ');
    if (name === undefined || password === undefined) return;
    if (/\s/.test(name) || /\s/.test(password)) {
      say('Names and passwords cannot contain spaces.\n');
      continue;
    }
    const again = await prompter.secret('Again: ');
    if (again === undefined) return;
    if (again !== password) {
      say('The two passwords differ.\n');
      continue;
    }
    try {
      await client.register(name, password);
      say('Registered.\n');
    } catch (error) {
      if (!(error instanceof DictError)) throw error;
      say(`Registration failed: ${error.message.replace(/^\d{3} /, '')}\n`);
    }
    return;
  }
}

async function login(client: DictClient, prompter: Prompter, say: (text: string) => void): Promise<string | undefined> {
  const name = await prompter.ask('Name: ');
  const password = await prompter.secret('Password: ');
  if (name === undefined || password === undefined) return undefined;
  let ok = false;
  try {
    ok = await client.login(name, password);
  } catch (error) {
    if (!(error instanceof DictError)) throw error;
    say(`Login failed: ${error.message.replace(/^\d{3} /, '')}\n`);
    return undefined;
  }
  say(ok ? 'Logged in.\n' : 'Login failed.\n');
  return ok ? name : undefined;
}

async function lookups(client: DictClient, prompter: Prompter, say: (text: string) => void, name: string): Promise<'logout' | 'eof'> {
  while (true) {
    say(userMenu(name));
    const choice = await prompter.ask('command: ');
    if (choice === undefined) return 'eof';
    switch (choice.trim()) {
      case '1':
        while (true) {
          const word = await prompter.ask('word: ');
          if (word === undefined) return 'eof';
          if (word === '##') break;
          if (word.trim() === '') continue;
          const definitions = await client.define(word.trim());
          if (definitions.length === 0) say(`${word.trim()} : Not Found\n`);
          else say(`${word.trim()} :\n${definitions.map((d) => `${indent(d.text.replace(/\n+$/, ''))}\n`).join('\n')}`);
        }
        break;
      case '2': {
        const rows = await client.history();
        if (rows.length === 0) say('No lookups yet.\n');
        for (const row of rows) say(`${row.account}    ${row.word}   ${formatHistoryTime(row.at)}\n`);
        break;
      }
      case '3':
        await client.logout();
        return 'logout';
      default:
        say('Please enter 1, 2 or 3.\n');
    }
  }
}
