/**
 * A user's home as the FTP server sees it: a folder on disk that nothing may leave.
 *
 * `resolveVirtualPath` (protocol.ts) has already turned the argument into segments with no `..`
 * above the home, no control characters and none of the server's own `.wharf-*` names. Here the
 * segments meet the disk through the home's `FileRoot` (store/file-root.ts), which does the
 * confining (realpath checks, symlinks, O_NOFOLLOW); this file turns its refusals into FTP replies
 * and its entries into listing rows.
 */
import type { Stats } from 'node:fs';
import { FileRoot, FileRootRefusal, type ExistingEntry, type NewEntry } from '../../store/file-root.js';
import { isInternalName, type EntryInfo } from './protocol.js';

export { OPEN_READ_FLAGS, type ExistingEntry, type NewEntry } from '../../store/file-root.js';

/** An FTP reply to send instead of going on: thrown by file operations, caught by the session. */
export class FtpReplyError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'FtpReplyError';
    this.code = code;
  }
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

/** A file root's refusal as the FTP reply a user understands (RFC 959 codes). */
function replyForRefusal(refusal: FileRootRefusal, what: string): FtpReplyError {
  switch (refusal.reason) {
    case 'outside-root':
      return new FtpReplyError(550, `${what}: permission denied (the path leads outside your home).`);
    case 'not-found':
      return new FtpReplyError(550, `${what}: no such file or directory.`);
    case 'not-a-directory':
      return new FtpReplyError(550, `${what}: not a folder.`);
    case 'is-a-directory':
      return new FtpReplyError(550, `${what}: is a folder.`);
    case 'not-a-file':
      return new FtpReplyError(550, `${what}: not a plain file.`);
    case 'permission-denied':
      return new FtpReplyError(550, `${what}: permission denied.`);
    case 'symlink':
    case 'symlink-loop':
      return new FtpReplyError(550, `${what}: is a symbolic link.`);
    case 'root-itself':
      return new FtpReplyError(550, `${what}: that is your home folder.`);
    case 'too-long':
      return new FtpReplyError(553, `${what}: name too long.`);
    case 'bad-name':
      return new FtpReplyError(553, `${what}: not allowed.`);
  }
}

/** An errno from the file system, or a file root's refusal, as the FTP reply a user understands. */
export function replyForFsError(error: unknown, what: string): FtpReplyError {
  if (error instanceof FileRootRefusal) return replyForRefusal(error, what);
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

/** Names a listing never shows: the server's own files, and names a LIST line could not carry. */
function hiddenFromListings(name: string): boolean {
  return isInternalName(name) || /[\r\n]/.test(name);
}

export class Home {
  /** The home's realpath. */
  readonly root: string;
  readonly writable: boolean;
  /** Owner shown in listings. */
  readonly owner: string;
  readonly #files: FileRoot;

  private constructor(files: FileRoot, writable: boolean, owner: string) {
    this.#files = files;
    this.root = files.path;
    this.writable = writable;
    this.owner = owner;
  }

  /** Create the folder if needed (for a writable home) and pin its realpath. */
  static async open(folder: string, options: { writable: boolean; owner: string }): Promise<Home> {
    return new Home(await FileRoot.open(folder, { create: true, mode: 0o755 }), options.writable, options.owner);
  }

  /** Lexical location of virtual segments (no symlinks resolved yet). */
  lexical(segments: readonly string[]): string {
    return this.#files.lexical(segments);
  }

  /** An existing file or folder, symlinks resolved, inside the home. */
  async existing(segments: readonly string[], display: string): Promise<ExistingEntry> {
    try {
      return await this.#files.existing(segments);
    } catch (error) {
      throw replyForFsError(error, display);
    }
  }

  /** Somewhere a new entry may go: the parent exists inside the home and the name is not a symlink. */
  async creatable(segments: readonly string[], display: string): Promise<NewEntry> {
    try {
      return await this.#files.creatable(segments);
    } catch (error) {
      if (error instanceof FileRootRefusal && error.reason === 'not-a-directory') throw new FtpReplyError(550, `${display}: the parent is not a folder.`);
      if (error instanceof FileRootRefusal && error.reason === 'symlink') throw new FtpReplyError(550, `${display}: is a symbolic link; it cannot be replaced over FTP.`);
      throw replyForFsError(error, display);
    }
  }

  /** What a folder holds, as listings show it. Internal files, and symlinks out of the home, are left out. */
  async list(folder: string): Promise<EntryInfo[]> {
    const listed = await this.#files.list(folder, { hidden: hiddenFromListings });
    const entries: EntryInfo[] = [];
    for (const { name, stats } of listed) {
      const info = toEntryInfo(name, stats, this);
      if (info) entries.push(info);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return entries;
  }

  /** One entry, for LIST/MLST of a single path. */
  async entry(real: string, name: string): Promise<EntryInfo | undefined> {
    const stats = await this.#files.statusOf(real);
    return stats && toEntryInfo(name, stats, this);
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
