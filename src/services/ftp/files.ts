/**
 * A user's home as the FTP server sees it: a folder on disk that nothing may leave.
 *
 * `resolveVirtualPath` (protocol/paths.ts) has already turned the argument into segments with no `..`
 * above the home, no control characters and none of the server's own `.wharf-*` names. Here the
 * segments meet the disk: every existing path goes through realpath and must still be inside the
 * home's realpath (a symlink planted toward `/` is refused, one that stays inside is followed);
 * a path about to be created must have its parent inside, and its last name must not be a
 * symlink; files are opened with O_NOFOLLOW so that a symlink swapped in after the check is not
 * followed either.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, mkdir, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryInfo } from './protocol/listing.js';
import { isInsideRoot, isInternalName } from './protocol/paths.js';
// For the session's file operations only (the marked block at the end of Home), kept apart.
import * as sessionFs from 'node:fs/promises';
import * as sessionPath from 'node:path';
import { isInsideRoot as isInsideHome, partialNameFor } from './protocol/paths.js';

/** An FTP reply to send instead of going on: thrown by file operations, caught by the session. */
export class FtpReplyError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'FtpReplyError';
    this.code = code;
  }
}

export const OPEN_READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

/** An errno from the file system as the FTP reply a user understands (RFC 959 codes). */
export function replyForFsError(error: unknown, what: string): FtpReplyError {
  switch (errnoCode(error)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new FtpReplyError(550, `${what}: no such file or directory.`);
    case 'EEXIST':
      return new FtpReplyError(550, `${what}: already exists.`);
    case 'ENOTEMPTY':
      return new FtpReplyError(550, `${what}: the folder is not empty.`);
    case 'EISDIR':
      return new FtpReplyError(550, `${what}: is a folder.`);
    case 'EACCES':
    case 'EPERM':
      return new FtpReplyError(550, `${what}: permission denied.`);
    case 'ELOOP':
      return new FtpReplyError(550, `${what}: is a symbolic link.`);
    case 'ENAMETOOLONG':
      return new FtpReplyError(553, `${what}: name too long.`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new FtpReplyError(452, `${what}: the server's disk is full.`);
    case 'EXDEV':
    case 'EINVAL':
      return new FtpReplyError(553, `${what}: not allowed.`);
    default:
      return new FtpReplyError(451, `${what}: local error (${errnoCode(error) ?? 'unknown'}).`);
  }
}

export interface ExistingEntry {
  real: string;
  stats: Stats;
}

export interface NewEntry {
  /** The parent folder's realpath. */
  parent: string;
  name: string;
  /** parent/name. */
  real: string;
  /** What is there now (never a symlink), if anything. */
  existing: Stats | undefined;
}

export class Home {
  /** The home's realpath. */
  readonly root: string;
  readonly writable: boolean;
  /** Owner shown in listings. */
  readonly owner: string;

  private constructor(root: string, writable: boolean, owner: string) {
    this.root = root;
    this.writable = writable;
    this.owner = owner;
  }

  /** Create the folder if needed (for a writable home) and pin its realpath. */
  static async open(folder: string, options: { writable: boolean; owner: string }): Promise<Home> {
    await mkdir(folder, { recursive: true, mode: 0o755 });
    return new Home(await realpath(folder), options.writable, options.owner);
  }

  /** Lexical location of virtual segments (no symlinks resolved yet). */
  lexical(segments: readonly string[]): string {
    return join(this.root, ...segments);
  }

  #deny(display: string): FtpReplyError {
    return new FtpReplyError(550, `${display}: permission denied (the path leads outside your home).`);
  }

  /** An existing file or folder, symlinks resolved, inside the home. */
  async existing(segments: readonly string[], display: string): Promise<ExistingEntry> {
    let real: string;
    try {
      real = await realpath(this.lexical(segments));
    } catch (error) {
      throw replyForFsError(error, display);
    }
    if (!isInsideRoot(this.root, real)) throw this.#deny(display);
    try {
      return { real, stats: await stat(real) };
    } catch (error) {
      throw replyForFsError(error, display);
    }
  }

  /** Somewhere a new entry may go: the parent exists inside the home and the name is not a symlink. */
  async creatable(segments: readonly string[], display: string): Promise<NewEntry> {
    const name = segments[segments.length - 1];
    if (name === undefined) throw new FtpReplyError(550, `${display}: that is your home folder.`);
    const parentEntry = await this.existing(segments.slice(0, -1), display);
    if (!parentEntry.stats.isDirectory()) throw new FtpReplyError(550, `${display}: the parent is not a folder.`);
    const real = join(parentEntry.real, name);
    let existing: Stats | undefined;
    try {
      existing = await lstat(real);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw replyForFsError(error, display);
    }
    if (existing?.isSymbolicLink()) throw new FtpReplyError(550, `${display}: is a symbolic link; it cannot be replaced over FTP.`);
    return { parent: parentEntry.real, name, real, existing };
  }

  /** What a folder holds, as listings show it. Internal files, and symlinks out of the home, are left out. */
  async list(folder: string): Promise<EntryInfo[]> {
    const dirents = await readdir(folder, { withFileTypes: true });
    const visible = dirents.filter((d) => !isInternalName(d.name) && !/[\r\n]/.test(d.name));
    const entries: EntryInfo[] = [];
    const batch = 64;
    for (let i = 0; i < visible.length; i += batch) {
      const infos = await Promise.all(visible.slice(i, i + batch).map((d) => this.#info(join(folder, d.name), d.name, d.isSymbolicLink())));
      for (const info of infos) if (info) entries.push(info);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return entries;
  }

  /** One entry, for LIST/MLST of a single path. */
  async entry(real: string, name: string): Promise<EntryInfo | undefined> {
    return this.#info(real, name, false);
  }

  async #info(path: string, name: string, isLink: boolean): Promise<EntryInfo | undefined> {
    try {
      let stats: Stats;
      if (isLink) {
        const target = await realpath(path);
        if (!isInsideRoot(this.root, target)) return undefined;
        stats = await stat(target);
      } else {
        stats = await lstat(path);
      }
      return toEntryInfo(name, stats, this);
    } catch {
      // Vanished meanwhile, or a dangling link: not listed.
      return undefined;
    }
  }

  // -------------------------------------------------------------------------------------------
  // The FTP session's file operations (session.ts and commands/*.ts call no node:fs themselves).
  // Each takes a real path that `existing` or `creatable` gave (or a hidden file beside one, from
  // `partialOf`), and refuses one outside the home, so a slip in a caller cannot leave it.

  /** Where the interrupted upload of a creatable entry is kept (see docs/ftp.md). */
  partialOf(target: NewEntry): string {
    return sessionPath.join(target.parent, partialNameFor(target.name));
  }

  /** What is at a path now (a link not followed), or undefined when nothing is. */
  async statIfPresent(real: string): Promise<Stats | undefined> {
    try {
      return await sessionFs.lstat(this.#confined(real));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  /** The names in a folder, the server's own hidden files included. */
  async names(folder: string): Promise<string[]> {
    return sessionFs.readdir(this.#confined(folder));
  }

  async makeFolder(real: string): Promise<void> {
    await sessionFs.mkdir(this.#confined(real), { mode: 0o755 });
  }

  async removeFolder(real: string): Promise<void> {
    await sessionFs.rmdir(this.#confined(real));
  }

  async removeFile(real: string): Promise<void> {
    await sessionFs.unlink(this.#confined(real));
  }

  async move(from: string, to: string): Promise<void> {
    await sessionFs.rename(this.#confined(from), this.#confined(to));
  }

  async setMode(real: string, mode: number): Promise<void> {
    await sessionFs.chmod(this.#confined(real), mode);
  }

  async setTimes(real: string, atime: Date, mtime: Date): Promise<void> {
    await sessionFs.utimes(this.#confined(real), atime, mtime);
  }

  /** Opened with O_NOFOLLOW (a link swapped in after the check is not followed). */
  async openForReading(real: string): Promise<sessionFs.FileHandle> {
    const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = sessionFs.constants;
    return sessionFs.open(this.#confined(real), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  }

  /** A new file, never one that exists or a link. */
  async createFile(real: string): Promise<sessionFs.FileHandle> {
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = sessionFs.constants;
    return sessionFs.open(this.#confined(real), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  }

  async openForWriting(real: string): Promise<sessionFs.FileHandle> {
    return sessionFs.open(this.#confined(real), sessionFs.constants.O_WRONLY | sessionFs.constants.O_NOFOLLOW);
  }

  /** A copy of a file (a clone where the file system can). */
  async copyFile(from: string, to: string): Promise<void> {
    await sessionFs.copyFile(this.#confined(from), this.#confined(to), sessionFs.constants.COPYFILE_FICLONE);
  }

  async truncateFile(real: string, size: number): Promise<void> {
    const handle = await this.openForWriting(real);
    try {
      await handle.truncate(size);
    } finally {
      await handle.close();
    }
  }

  #confined(real: string): string {
    if (!isInsideHome(this.root, real)) throw new FtpReplyError(550, 'Permission denied: the path leads outside your home.');
    return real;
  }
}

export function toEntryInfo(name: string, stats: Stats, home: Home): EntryInfo | undefined {
  const type = stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : undefined;
  if (!type) return undefined;
  return {
    name,
    type,
    size: type === 'file' ? stats.size : 4096,
    mtime: stats.mtime,
    mode: stats.mode & 0o777,
    dev: stats.dev,
    ino: stats.ino,
    owner: home.owner,
    group: 'ftp',
    writable: home.writable,
  };
}
