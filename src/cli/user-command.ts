import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseSize } from '../core/config.js';
import { UsageError, WharfError } from '../core/errors.js';
import { DATA_FOLDER_HELP, dataFolder, readFirstLine, readHiddenLine } from '../cli-kit/index.js';
import { openExistingStore } from '../store/existing-store.js';
import { accountNameProblem, newAccountNameProblem, openStore, type Account, type Store } from '../store/index.js';

/**
 * `wharf user add|passwd|del|list|quota|disable|enable`: the administrator's side of the one
 * user base every service shares. Passwords come from a terminal without echo, or from the first
 * line of standard input with `--password-stdin`; never from an argument (it would show in `ps`
 * and in the shell's history).
 */

export interface UserCommandIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: { write(text: string): unknown };
  /** Prompts go here, so that stdout carries only the command's output. */
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Replaces the terminal prompt (tests). */
  readPassword?: (question: string) => Promise<string>;
}

function processIo(): UserCommandIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

interface CommonFlags {
  data?: string;
  db?: string;
  passwordStdin?: boolean;
}

/** `500M`, `1G`, `1GiB`, `1048576` → bytes, for commander. */
export function parseSizeArgument(text: string): number {
  try {
    return parseSize(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** 1073741824 → `1 GiB`, 1536 → `1.5 KiB`, 10 → `10 B`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 ? String(value) : String(Math.round(value * 10) / 10);
  return `${shown} ${units[unit]}`;
}

/** `rules`: `newAccountNameProblem` for a name being created (reserved names, lookalikes). */
function checkName(name: string, rules: (name: string) => string | undefined = accountNameProblem): string {
  const problem = rules(name);
  if (problem) throw new UsageError(`invalid account name ${JSON.stringify(name)}: ${problem}`);
  return name.normalize('NFC');
}

function withStoreOptions(command: Command): Command {
  return command
    .option('--data <dir>', DATA_FOLDER_HELP)
    .option('--db <url>', 'database URL: sqlite:PATH, postgres://..., mysql://... (default SQLite in the data folder, env WHARF_DB)');
}

/**
 * Run `work` on the store of the command's data folder. Only `create` (for `user add`) may make
 * a new database: every other verb refuses one that is not there, which would only hide that the
 * command looked in the wrong folder.
 */
async function withStore<T>(command: Command, io: UserCommandIo, work: (store: Store) => Promise<T>, { create = false } = {}): Promise<T> {
  const flags = command.optsWithGlobals<CommonFlags>();
  const dataDir = dataFolder(flags.data, io.env);
  const url = flags.db ?? (io.env.WHARF_DB || undefined);
  const store = await (create ? openStore : openExistingStore)({ dataDir, url });
  try {
    return await work(store);
  } catch (error) {
    // A bad name, password or size found by the store is a usage problem here.
    if (error instanceof WharfError && error.code === 'EBADVALUE') throw new UsageError(error.message, { cause: error });
    throw error;
  } finally {
    await store.close();
  }
}

/** The password for `name`: `--password-stdin`, or asked twice on a terminal. */
async function obtainPassword(name: string, command: Command, io: UserCommandIo): Promise<string> {
  let password: string;
  if (command.optsWithGlobals<CommonFlags>().passwordStdin) {
    password = await readFirstLine(io.stdin);
    if (password === '') throw new UsageError('--password-stdin: standard input has no password (an empty first line)');
    return password;
  }
  const ask = io.readPassword ?? (io.stdin.isTTY ? (question: string) => readHiddenLine(question, { input: io.stdin, output: io.stderr }) : undefined);
  if (!ask) throw new UsageError('standard input is not a terminal: pipe the password in and pass --password-stdin');
  password = await ask(`Password for ${name}: `);
  if (password === '') throw new UsageError('the password is empty');
  const again = await ask('Again: ');
  if (again !== password) throw new UsageError('the passwords do not match');
  return password;
}

function accountJson(account: Account): Record<string, unknown> {
  return {
    name: account.name,
    role: account.role,
    disabled: account.disabled,
    quotaBytes: account.quotaBytes,
    bytesUsed: account.bytesUsed,
    createdAt: account.createdAt.toISOString(),
  };
}

/** Columns padded to the widest cell (by code points). */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, [...cell].length)));
  return rows
    .map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell + ' '.repeat((widths[index] ?? 0) - [...cell].length))).join('  '))
    .join('\n');
}

function accountTable(accounts: Account[]): string {
  const rows = [['NAME', 'ROLE', 'DISABLED', 'QUOTA', 'USED', 'CREATED']];
  for (const account of accounts) {
    rows.push([
      account.name,
      account.role,
      account.disabled ? 'yes' : 'no',
      formatSize(account.quotaBytes),
      formatSize(account.bytesUsed),
      account.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ]);
  }
  return formatTable(rows);
}

/** Build `wharf user ...`. Its actions throw UsageError (exit 2) or WharfError (exit 1). */
export function userCommand(io: UserCommandIo = processIo()): Command {
  const user = withStoreOptions(new Command('user')).description('manage the accounts every service shares (FTP, dict, diary, chat)');

  withStoreOptions(user.command('add'))
    .description('create an account; the password is asked twice without echo, or read from stdin')
    .argument('<name>', 'account name: up to 64 characters, no spaces, not a reserved name such as root (docs/accounts.md)')
    .option('--admin', 'give the account the admin role')
    .addOption(new Option('--quota <size>', 'storage quota, e.g. 500M, 1G, 1048576 (default 1 GiB)').argParser(parseSizeArgument))
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (rawName: string, flags: { admin?: boolean; quota?: number }, command: Command) => {
      const name = checkName(rawName, newAccountNameProblem);
      await withStore(command, io, async (store) => {
        if (await store.accounts.get(name)) throw new WharfError('ETAKEN', `the account name "${name}" is taken`);
        const password = await obtainPassword(name, command, io);
        const account = await store.accounts.add(name, password, { role: flags.admin ? 'admin' : 'user', ...(flags.quota === undefined ? {} : { quota: flags.quota }) });
        io.stdout.write(`added ${account.name} (${account.role}, quota ${formatSize(account.quotaBytes)}) to the accounts in ${store.location}\n`);
      }, { create: true });
    });

  withStoreOptions(user.command('passwd'))
    .description("set an account's password")
    .argument('<name>', 'account name')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (rawName: string, _flags: unknown, command: Command) => {
      const name = checkName(rawName);
      await withStore(command, io, async (store) => {
        if (!(await store.accounts.get(name))) throw new WharfError('ENOUSER', `there is no account named "${name}"`);
        const password = await obtainPassword(name, command, io);
        await store.accounts.setPassword(name, password);
        io.stdout.write(`password of ${name} changed\n`);
      });
    });

  withStoreOptions(user.command('del'))
    .alias('delete')
    .description('delete an account (its files stay in the data folder)')
    .argument('<name>', 'account name')
    .action(async (rawName: string, _flags: unknown, command: Command) => {
      const name = checkName(rawName);
      await withStore(command, io, async (store) => {
        await store.accounts.remove(name);
        io.stdout.write(`deleted ${name}\n`);
      });
    });

  withStoreOptions(user.command('list'))
    .alias('ls')
    .description('list the accounts')
    .option('--json', 'print a JSON array')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withStore(command, io, async (store) => {
        const accounts = await store.accounts.list();
        if (flags.json) io.stdout.write(`${JSON.stringify(accounts.map(accountJson), null, 2)}\n`);
        else if (accounts.length === 0) io.stdout.write(`no accounts yet in ${store.location} (add one with: wharf user add NAME)\n`);
        else io.stdout.write(`${accountTable(accounts)}\n`);
      });
    });

  withStoreOptions(user.command('quota'))
    .description("set an account's storage quota")
    .argument('<name>', 'account name')
    .argument('<size>', 'e.g. 500M, 1G, 1GiB, 1048576', parseSizeArgument)
    .action(async (rawName: string, size: number, _flags: unknown, command: Command) => {
      const name = checkName(rawName);
      await withStore(command, io, async (store) => {
        await store.accounts.setQuota(name, size);
        const usage = await store.quota.usage(name);
        io.stdout.write(`quota of ${name}: ${formatSize(usage.quotaBytes)} (${formatSize(usage.bytesUsed)} used)\n`);
      });
    });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    withStoreOptions(user.command(verb))
      .description(disabled ? 'refuse every login of an account (keeps it and its files)' : 'allow a disabled account to log in again')
      .argument('<name>', 'account name')
      .action(async (rawName: string, _flags: unknown, command: Command) => {
        const name = checkName(rawName);
        await withStore(command, io, async (store) => {
          await store.accounts.setDisabled(name, disabled);
          io.stdout.write(`${disabled ? 'disabled' : 'enabled'} ${name}\n`);
        });
      });
  }

  return user;
}

/**
 * Run `wharf user ARGS...` in this process (tests, embedding): commander's own errors (unknown
 * option, missing argument) become UsageErrors instead of exiting the process.
 */
export async function runUserCommand(args: string[], io: Partial<UserCommandIo> = {}): Promise<void> {
  const fullIo: UserCommandIo = { ...processIo(), ...io };
  const root = new Command('wharf');
  root.addCommand(userCommand(fullIo));
  let errorText = '';
  const configure = (command: Command): void => {
    command.exitOverride().configureOutput({
      writeOut: (text) => void fullIo.stdout.write(text),
      writeErr: (text) => {
        errorText += text;
      },
    });
    for (const sub of command.commands) configure(sub);
  };
  configure(root);
  try {
    await root.parseAsync(['user', ...args], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return; // --help
      throw new UsageError((errorText.trim() || error.message).replace(/^error: /, ''), { cause: error });
    }
    throw error;
  }
}
