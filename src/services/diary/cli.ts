import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DATA_FOLDER_HELP, addHostOptions, dataFolder, exitInterrupted, port, positiveInt, type CliContext } from '../../cli-kit/index.js';
import { readHiddenLine } from '../../cli-kit/prompt.js';
import { UsageError, WharfError } from '../../core/errors.js';
import { openExistingStore } from '../../store/existing-store.js';
import { openStore, type Store } from '../../store/index.js';
import { DiaryClient, type DiaryEntry } from './client.js';
import { DiaryStore, PUBLIC_DIARY, describeDiary } from './diary-store.js';
import { CLEARED_REPLY, READ_FOOTER, READ_HEADER, formatDailyLog, isValidTimeZone, parseDailyLog, stampedLine } from './protocol.js';

interface ClientFlags {
  host: string;
  port: number;
  user?: string;
  public?: boolean;
  timeout: number;
}

function addClientOptions(command: Command): Command {
  return command
    .option('-H, --host <host>', 'server address', '127.0.0.1')
    .addOption(new Option('-p, --port <port>', 'server port').argParser(port).default(8888))
    .option('-u, --user <name>', "log in as NAME (password from WHARF_PASSWORD or asked without echo) and use NAME's own diary")
    .option('--public', 'use the public diary even when logged in (an admin clearing it, say)')
    .addOption(new Option('--timeout <ms>', 'give up after this long without an answer').argParser(positiveInt).default(10_000));
}

function addStoreOptions(command: Command): Command {
  return command
    .option('--data <dir>', DATA_FOLDER_HELP)
    .option('--db <url>', 'database URL: sqlite:PATH, postgres://..., mysql://... (default SQLite in the data folder, env WHARF_DB)')
    .option('--diary <name>', '"public" (default) or an account name')
    .option('--account <name>', "an account's diary (the same as --diary NAME, also for an account named \"public\")")
    .option('--tz <zone>', 'time zone of the [asctime] stamps, e.g. UTC or Asia/Shanghai (default: local time, as the seed)');
}

/** `30s`, `15m`, `2h`, `7d` ago, or a date/time `2026-11-23`, `2026-11-23T18:00` (local), ISO 8601. */
export function parseSince(text: string, now = Date.now()): Date {
  const relative = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i.exec(text.trim());
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[relative[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now - Number(relative[1]) * unit);
  }
  // A bare date is midnight local time (Date.parse would read it as UTC).
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  const ms = dateOnly ? new Date(Number(dateOnly[1]), Number(dateOnly[2]) - 1, Number(dateOnly[3])).getTime() : Date.parse(text);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`not a time: ${JSON.stringify(text)} (try 2026-11-23, 2026-11-23T18:00, 2h or 7d)`);
  return new Date(ms);
}

function timeZoneOption(zone: string | undefined): string | undefined {
  if (zone !== undefined && !isValidTimeZone(zone)) throw new UsageError(`--tz ${zone}: not a time zone this system knows (try UTC or Asia/Shanghai)`);
  return zone;
}

async function password(user: string): Promise<string> {
  const fromEnv = process.env.WHARF_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (process.stdin.isTTY !== true) throw new UsageError('set WHARF_PASSWORD, or run on a terminal to be asked for the password');
  return readHiddenLine(`Password for ${user}: `, { input: process.stdin, output: process.stderr });
}

/** Open a client, log in when asked; the diary to use: the user's own unless --public. */
async function connect(flags: ClientFlags): Promise<{ client: DiaryClient; diary: string | undefined }> {
  const pass = flags.user !== undefined ? await password(flags.user) : undefined;
  const client = await DiaryClient.connect({ host: flags.host, port: flags.port, timeoutMs: flags.timeout });
  try {
    if (flags.user !== undefined) {
      const account = await client.login(flags.user, pass!);
      return { client, diary: flags.public ? undefined : account.name };
    }
    return { client, diary: undefined };
  } catch (error) {
    await client.close();
    throw error;
  }
}

function entryLines(entries: readonly DiaryEntry[]): string {
  return entries.map((entry) => `${stampedLine(entry.time.getTime(), entry.text)}\n`).join('');
}

/** The whole diary framed as the seed's `-r` answer. */
function framed(entries: readonly DiaryEntry[]): string {
  return `${READ_HEADER}\n${entryLines(entries)}${READ_FOOTER}\n`;
}

function diaryFromFlags(flags: { diary?: string; account?: string }): string {
  if (flags.account !== undefined) return flags.account.normalize('NFC');
  if (flags.diary === undefined || flags.diary === 'public') return PUBLIC_DIARY;
  return flags.diary.normalize('NFC');
}

/** `export` only reads: it refuses a missing database instead of creating an empty one. */
async function withStore<T>(flags: { data?: string; db?: string }, work: (store: Store) => Promise<T>, { create = false } = {}): Promise<T> {
  const options = { dataDir: dataFolder(flags.data, process.env), url: flags.db ?? (process.env.WHARF_DB || undefined) };
  const store = await (create ? openStore : openExistingStore)(options);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/**
 * `wharf diary`: the seed's client flow (show the diary, then send each typed line and show the
 * answer; `-r` shows the diary again, `-c` clears it), and one verb per action.
 */
export function registerDiaryCli(program: Command, ctx: CliContext): void {
  const diary = program
    .command('diary')
    .description('network diary (seed 003) and its client; with no verb: show the diary, then send each typed line and show the answer (-r reads, -c clears)');
  addClientOptions(diary).action(async (flags: ClientFlags) => {
    await interactive(flags);
  });

  const serveCommand = diary
    .command('serve')
    .description('run the diary server (UDP, default port 8888): the seed protocol and wharf\'s own')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1)')
    .addOption(new Option('-p, --port <port>', 'UDP port (default 8888)').argParser(port))
    .option('--anonymous-clear', 'let anonymous (seed) clients empty the public diary with -c, as the seed did')
    .option('--time-zone <zone>', 'time zone of the [asctime] stamps sent to seed clients (default: local time)');
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    await ctx.serve(['diary'], command, {
      diary: {
        host: flags.host,
        port: flags.port,
        anonymousClear: flags.anonymousClear === true ? true : undefined,
        timeZone: flags.timeZone,
      },
    });
  });

  addClientOptions(diary.command('write').description('add TEXT to the diary and print the stored line').argument('<text...>', 'the entry')).action(
    async (words: string[], flags: ClientFlags) => {
      const { client, diary: target } = await connect(flags);
      try {
        const written = await client.write(words.join(' '), target ? { diary: target } : {});
        process.stdout.write(`${stampedLine((written.time ?? new Date()).getTime(), written.text)}\n`);
      } finally {
        await client.close();
      }
    },
  );

  addClientOptions(diary.command('read').description('print the diary, oldest first'))
    .addOption(new Option('--since <time>', 'only entries since TIME: 2026-11-23, 2026-11-23T18:00, or 30m, 2h, 7d ago').argParser((text) => parseSince(text)))
    .option('--json', 'print a JSON array of {id, time, text, by}')
    .action(async (flags: ClientFlags & { since?: Date; json?: boolean }) => {
      const { client, diary: target } = await connect(flags);
      try {
        const entries = await client.read({ ...(target ? { diary: target } : {}), ...(flags.since ? { since: flags.since } : {}) });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(entries.map((e) => ({ id: e.id, time: e.time.toISOString(), text: e.text, ...(e.by ? { by: e.by } : {}) })), null, 2)}\n`);
        } else {
          process.stdout.write(entryLines(entries));
        }
      } finally {
        await client.close();
      }
    });

  addClientOptions(diary.command('clear').description('empty the diary (your own; the public one needs an admin or a server run with --anonymous-clear)')).action(
    async (flags: ClientFlags) => {
      const { client, diary: target } = await connect(flags);
      try {
        const removed = await client.clear(target ? { diary: target } : {});
        process.stdout.write(`${CLEARED_REPLY} (${describeDiary(target ?? PUBLIC_DIARY)}: ${removed} ${removed === 1 ? 'entry' : 'entries'} removed)\n`);
      } finally {
        await client.close();
      }
    },
  );

  registerStoreVerbs(diary);
}

/** export and import: the seed's daily.log format, straight from the store (no server needed). */
function registerStoreVerbs(diary: Command): void {
  addStoreOptions(diary.command('export').description("write a diary in the seed's daily.log format (from the store, no server needed)"))
    .option('-o, --output <file>', 'write to FILE instead of standard output')
    .action(async (flags: { data?: string; db?: string; diary?: string; account?: string; tz?: string; output?: string }) => {
      const timeZone = timeZoneOption(flags.tz);
      const name = diaryFromFlags(flags);
      await withStore(flags, async (store) => {
        const file = flags.output ? createWriteStream(flags.output) : undefined;
        const failed = file ? new Promise<never>((_, reject) => file.once('error', (error) => reject(new WharfError('ESYSTEM', `cannot write ${flags.output}: ${error.message}`)))) : undefined;
        failed?.catch(() => undefined);
        const out: NodeJS.WritableStream = file ?? process.stdout;
        const write = async (text: string) => {
          if (!out.write(text)) await Promise.race([new Promise((resolve) => out.once('drain', resolve)), ...(failed ? [failed] : [])]);
        };
        let count = 0;
        let buffer = '';
        for await (const entry of new DiaryStore(store).all(name)) {
          buffer += formatDailyLog([{ ms: entry.ms, text: entry.text }], timeZone);
          count += 1;
          if (buffer.length > 64 * 1024) {
            await write(buffer);
            buffer = '';
          }
        }
        await write(buffer);
        if (file) {
          await Promise.race([new Promise<void>((resolve) => file.end(() => resolve())), failed!]);
          process.stderr.write(`exported ${count} ${count === 1 ? 'entry' : 'entries'} of ${describeDiary(name)} to ${flags.output}\n`);
        }
      });
    });

  addStoreOptions(diary.command('import').description("add the entries of a daily.log (the seed's format) to a diary; entries already there are skipped"))
    .argument('<file>', 'a daily.log')
    .action(async (file: string, flags: { data?: string; db?: string; diary?: string; account?: string; tz?: string }) => {
      const timeZone = timeZoneOption(flags.tz);
      const name = diaryFromFlags(flags);
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(file));
      } catch (error) {
        if (error instanceof TypeError) throw new UsageError(`${file} is not UTF-8 text`);
        throw new WharfError('EMISSING', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      const parsed = parseDailyLog(text, { ...(timeZone ? { timeZone } : {}), fallbackMs: statSync(file).mtimeMs });
      const entries = parsed.entries.filter((entry) => entry.text.trim() !== '');
      const empty = parsed.entries.length - entries.length;
      await withStore(flags, async (store) => {
        if (name !== PUBLIC_DIARY && !(await store.accounts.get(name))) throw new WharfError('ENOUSER', `there is no account named "${name}"`);
        const { added, skipped } = await new DiaryStore(store).importEntries(name, entries);
        const notes = [
          skipped ? `${skipped} already there` : '',
          empty ? `${empty} empty skipped` : '',
          parsed.unstampedLeadingLines ? `${parsed.unstampedLeadingLines} without a time stamp, dated with the file's time` : '',
        ].filter(Boolean);
        process.stdout.write(`imported ${added} ${added === 1 ? 'entry' : 'entries'} into ${describeDiary(name)} in ${store.location}${notes.length ? ` (${notes.join(', ')})` : ''}\n`);
      }, { create: true });
    });
}

/** The seed's flow: show the diary, then each typed line is an entry, `-r` or `-c`. */
async function interactive(flags: ClientFlags): Promise<void> {
  const { client, diary: target } = await connect(flags);
  const options = target ? { diary: target } : {};
  const tty = process.stdin.isTTY === true;
  const lines = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  // Iterate from the start: lines that arrive while the diary is being read must wait, not vanish.
  const typed = lines[Symbol.asyncIterator]();
  lines.on('SIGINT', exitInterrupted);
  try {
    process.stdout.write(framed(await client.read(options)));
    if (tty) lines.setPrompt('输入>');
    if (tty) lines.prompt();
    for (let next = await typed.next(); next.done !== true; next = await typed.next()) {
      const line: string = next.value;
      const command = line.trim().toLowerCase();
      try {
        if (line.trim() === '') {
          // Nothing to store (the seed stored an empty entry; wharf does not).
        } else if (command === '-r') {
          process.stdout.write(framed(await client.read(options)));
        } else if (command === '-c') {
          await client.clear(options);
          process.stdout.write(`${CLEARED_REPLY}\n`);
        } else {
          const written = await client.write(line, options);
          process.stdout.write(`${stampedLine((written.time ?? new Date()).getTime(), written.text)}\n`);
        }
      } catch (error) {
        // A refused clear or a bad entry: say so and carry on, as the seed's loop does.
        if (!(error instanceof WharfError) || error.code === 'EDEADLINE' || error.code === 'ECLOSED') throw error;
        process.stderr.write(`wharf: ${error.message}\n`);
      }
      if (tty) lines.prompt();
    }
  } finally {
    lines.close();
    await client.close();
  }
}
