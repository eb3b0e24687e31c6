/**
 * `wharf ftp shell`: the seed client's menu (list, stor, retr, exit) grown into a small ftp(1):
 * ls [-l], get/put [-c] [--force], cd, lcd, lls, and the rest. On a terminal: a prompt, tab
 * completion of remote and local names, Ctrl-C that clears the line at the prompt and aborts a
 * transfer (ABOR, partial kept) during one. Piped: runs every line, and ends non-zero when one
 * failed, as `lftp -c` does.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Interface } from 'node:readline';
import { UsageError, WharfError, isErrnoException } from '../../core/errors.js';
import { formatBytes } from '../../core/human-size.js';
import type { FtpClient, FtpEntry } from './client.js';
import { getFile, putFile, type TransferFlags, type TransferIo } from './cli-transfers.js';

export const SHELL_HELP = `commands (the seed client's verbs first):
  list | ls [-l] [PATH]             list a folder (ls: with sizes and times)
  stor | put [-c] [--force] FILE [REMOTE]   upload (replaces; -c resumes, checked by HASH)
  retr | get [-c] [--force] FILE [LOCAL]    download (replaces; -c resumes, checked by HASH)
  exit | quit | bye                 leave
  cd PATH, pwd, mkdir PATH, rm PATH, rmdir PATH, mv FROM TO, quota, help
  lcd DIR, lls [DIR], lpwd          the local side
Ctrl-C stops a transfer (the partial is kept for a resume) or clears the line.
`;

export interface ShellIo extends TransferIo {
  /** Where SIGINT comes from when the input is not a terminal (a signal to the process). */
  signals: { on(event: 'SIGINT', listener: () => void): unknown; off(event: 'SIGINT', listener: () => void): unknown };
  chdir(dir: string): void;
  cwd(): string;
}

export interface ShellOptions {
  progress: boolean;
  limitRate?: number | undefined;
  tty: boolean;
}

export function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let match = pattern.exec(line); match; match = pattern.exec(line)) words.push(match[1]?.replace(/\\(.)/g, '$1') ?? match[2] ?? match[3] ?? '');
  return words;
}

/** `ls` in a shell: sizes a person reads. */
export function formatEntries(entries: FtpEntry[], long: boolean, size: (bytes: number) => string = String): string {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!long) return sorted.map((e) => `${e.name}${e.type === 'dir' ? '/' : ''}\n`).join('');
  return sorted
    .map((e) => {
      const kind = e.type === 'dir' ? 'd' : e.type === 'link' ? 'l' : e.type === 'file' ? '-' : '?';
      const shown = e.type === 'dir' || e.size === undefined ? '' : size(e.size);
      const when = e.modified ? e.modified.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''.padEnd(20);
      return `${kind} ${shown.padStart(14)}  ${when}  ${e.name}\n`;
    })
    .join('');
}

/** `get -c --force a b` → flags and the rest. */
function transferArguments(args: string[]): { resume: boolean; force: boolean; rest: string[] } {
  const rest: string[] = [];
  let resume = false;
  let force = false;
  for (const arg of args) {
    if (arg === '-c' || arg === '--resume' || arg === '--continue') resume = true;
    else if (arg === '--force' || arg === '-f') force = true;
    else rest.push(arg);
  }
  return { resume, force, rest };
}

const REMOTE_VERBS = new Set(['get', 'retr', 'cd', 'rm', 'rmdir', 'mv', 'ls', 'list', 'dir']);
const LOCAL_VERBS = new Set(['put', 'stor', 'lcd', 'lls']);

export class FtpShell {
  readonly #client: FtpClient;
  readonly #io: ShellIo;
  readonly #options: ShellOptions;
  #transfer: AbortController | undefined;
  #busy = false;
  #remoteNames = new Map<string, string[]>();
  failures = 0;

  constructor(client: FtpClient, io: ShellIo, options: ShellOptions) {
    this.#client = client;
    this.#io = io;
    this.#options = options;
  }

  #out(text: string): void {
    this.#io.stdout.write(text);
  }

  /**
   * Ctrl-C: stop the transfer in progress; at a terminal's prompt, clear the line; otherwise
   * (piped, nothing running) end the session. Returns true when the session should end.
   */
  interrupt(lines: Interface | undefined): boolean {
    if (this.#transfer) {
      this.#transfer.abort();
      return false;
    }
    if (this.#options.tty && lines && !this.#busy) {
      lines.write('', { ctrl: true, name: 'u' });
      this.#out('^C\n');
      lines.prompt();
      return false;
    }
    return !this.#busy;
  }

  /** Tab completion: remote names for remote verbs, local ones for put/lcd/lls. */
  complete(line: string, callback: (error: null, result: [string[], string]) => void): void {
    const words = line.split(/\s+/);
    const word = words.at(-1) ?? '';
    const verb = (words[0] ?? '').toLowerCase();
    if (words.length < 2 || this.#busy) return callback(null, [[], word]);
    const folder = word.includes('/') ? word.slice(0, word.lastIndexOf('/') + 1) : '';
    const names = LOCAL_VERBS.has(verb) ? this.#localNames(folder) : REMOTE_VERBS.has(verb) ? this.#remoteNamesIn(folder) : Promise.resolve([]);
    names.then(
      (all) => callback(null, [all.map((name) => folder + name).filter((name) => name.startsWith(word)), word]),
      () => callback(null, [[], word]),
    );
  }

  async #localNames(folder: string): Promise<string[]> {
    const entries = await readdir(resolve(this.#io.cwd(), folder || '.'), { withFileTypes: true });
    return entries.map((e) => `${e.name}${e.isDirectory() ? '/' : ''}`);
  }

  async #remoteNamesIn(folder: string): Promise<string[]> {
    const cached = this.#remoteNames.get(folder);
    if (cached) return cached;
    this.#busy = true;
    try {
      const names = (await this.#client.list(folder.replace(/\/$/, ''))).map((e) => `${e.name}${e.type === 'dir' ? '/' : ''}`);
      this.#remoteNames.set(folder, names);
      return names;
    } finally {
      this.#busy = false;
    }
  }

  /** Run one line; false when it asks to leave. A failure is reported and counted, never thrown. */
  async run(line: string): Promise<boolean> {
    const [verb = '', ...args] = shellWords(line.trim());
    this.#busy = true;
    try {
      return await this.#command(verb.toLowerCase(), args);
    } catch (error) {
      // A peer that resets a data connection is a failed command, not a crashed shell.
      if (!(error instanceof WharfError) && !isErrnoException(error)) throw error;
      this.failures++;
      this.#io.stderr.write(`${(error as Error).message}\n`);
      return true;
    } finally {
      this.#busy = false;
      this.#transfer = undefined;
    }
  }

  #transferFlags(resume: boolean, force: boolean): TransferFlags {
    this.#transfer = new AbortController();
    return { resume, force, progress: this.#options.progress, limitRate: this.#options.limitRate, signal: this.#transfer.signal };
  }

  async #command(verb: string, args: string[]): Promise<boolean> {
    switch (verb) {
      case '':
        return true;
      case 'exit':
      case 'quit':
      case 'bye':
        return false;
      case 'help':
      case '?':
        this.#out(SHELL_HELP);
        return true;
      case 'list':
      case 'ls':
      case 'dir': {
        const long = verb !== 'list' || args.some((a) => /^-\w*l/.test(a));
        const path = args.find((a) => !a.startsWith('-')) ?? '';
        const entries = await this.#client.list(path);
        // The seed's server said FAIL for an empty library; say it in words.
        this.#out(entries.length === 0 ? '(empty)\n' : formatEntries(entries, long, formatBytes));
        return true;
      }
      case 'stor':
      case 'put': {
        const { resume, force, rest } = transferArguments(args);
        if (!rest[0]) throw new UsageError('put [-c] [--force] FILE [REMOTE]');
        await putFile(this.#client, resolve(this.#io.cwd(), rest[0]), rest[1], this.#transferFlags(resume, force), this.#io);
        this.#remoteNames.clear();
        return true;
      }
      case 'retr':
      case 'get': {
        const { resume, force, rest } = transferArguments(args);
        if (!rest[0]) throw new UsageError('get [-c] [--force] FILE [LOCAL]');
        const local = rest[1] === '-' ? '-' : resolve(this.#io.cwd(), rest[1] ?? basename(rest[0]));
        await getFile(this.#client, rest[0], local, this.#transferFlags(resume, force), this.#io);
        return true;
      }
      case 'cd':
        await this.#client.cd(args[0] ?? '/');
        this.#remoteNames.clear();
        return true;
      case 'pwd':
        this.#out(`${await this.#client.pwd()}\n`);
        return true;
      case 'lcd':
        this.#lcd(args[0] ?? process.env.HOME ?? '.');
        return true;
      case 'lpwd':
        this.#out(`${this.#io.cwd()}\n`);
        return true;
      case 'lls':
        this.#out(await this.#lls(args.find((a) => !a.startsWith('-')) ?? '.'));
        return true;
      case 'quota': {
        const quota = await this.#client.quota();
        this.#out(quota ? `${formatBytes(quota.used)} of ${formatBytes(quota.quota)} used, ${formatBytes(quota.free)} free\n` : 'no quota on this server\n');
        return true;
      }
      default:
        return this.#simple(verb, args);
    }
  }

  async #simple(verb: string, args: string[]): Promise<boolean> {
    const need = (n: number, usage: string) => {
      if (args.length < n || args.slice(0, n).some((a) => a === '')) throw new UsageError(usage);
    };
    switch (verb) {
      case 'mkdir':
        need(1, 'mkdir PATH');
        await this.#client.mkdir(args[0] as string);
        break;
      case 'rm':
        need(1, 'rm PATH');
        await this.#client.delete(args[0] as string);
        break;
      case 'rmdir':
        need(1, 'rmdir PATH');
        await this.#client.rmdir(args[0] as string);
        break;
      case 'mv':
        need(2, 'mv FROM TO');
        await this.#client.rename(args[0] as string, args[1] as string);
        break;
      default:
        throw new UsageError(`unknown command "${verb}" (try help)`);
    }
    this.#remoteNames.clear();
    return true;
  }

  #lcd(dir: string): void {
    try {
      this.#io.chdir(resolve(this.#io.cwd(), dir));
    } catch {
      throw new UsageError(`lcd: ${dir}: no such folder`);
    }
    this.#out(`local folder: ${this.#io.cwd()}\n`);
  }

  async #lls(dir: string): Promise<string> {
    const path = resolve(this.#io.cwd(), dir);
    let names;
    try {
      names = await readdir(path, { withFileTypes: true });
    } catch {
      throw new UsageError(`lls: ${dir}: no such folder`);
    }
    const entries: FtpEntry[] = [];
    for (const entry of names) {
      const info = await stat(join(path, entry.name)).catch(() => undefined);
      entries.push({ name: entry.name, type: info?.isDirectory() ? 'dir' : info?.isFile() ? 'file' : 'other', size: info?.size, modified: info?.mtime, raw: entry.name });
    }
    return entries.length === 0 ? '(empty)\n' : formatEntries(entries, true, formatBytes);
  }
}
