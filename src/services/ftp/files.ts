/**
 * A user's home as the FTP server sees it: a folder on disk that nothing may leave.
 *
 * `resolveVirtualPath` (protocol/paths.ts) has already turned the argument into segments with no `..`
 * above the home, no control characters and none of the server's own `.wharf-*` names. Here the
 * segments meet the disk through the home's `FileRoot` (store/file-root.ts), which does the
 * confining (realpath checks, symlinks, O_NOFOLLOW); this file turns its refusals into FTP replies
 * and its entries into listing rows.
 */
import type { Stats } from 'node:fs';
// For the session's file operations only (the marked block at the end of Home), kept apart.
import * as sessionFs from 'node:fs/promises';
import * as sessionPath from 'node:path';
import { FileRoot, FileRootRefusal, type ExistingEntry, type NewEntry } from '../../store/file-root.js';
import type { EntryInfo } from './protocol/listing.js';
import { isInternalName, partialNameFor } from './protocol/paths.js';

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

  /**
   * An existing file or folder, symlinks resolved, inside the home; refusals as the file root's
   * own `FileRootRefusal` (the portal maps them to HTTP; FTP uses `existing`).
   */
  async existingEntry(segments: readonly string[]): Promise<ExistingEntry> {
    return this.#files.existing(segments);
  }

  /** Where a new entry may go, refusals as `FileRootRefusal` (see `creatable`). */
  async creatableEntry(segments: readonly string[]): Promise<NewEntry> {
    return this.#files.creatable(segments);
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

  /**
   * What a folder holds, as listings show it. Internal files, and symlinks out of the home, are
   * left out. `limit`: at most this many names are looked at (the portal's listing).
   */
  async list(folder: string, limit?: number): Promise<EntryInfo[]> {
    const listed = await this.#files.list(folder, { hidden: hiddenFromListings, ...(limit === undefined ? {} : { limit }) });
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

  /**
   * A plain file for reading, through the root: opened with O_NOFOLLOW (a link swapped in after
   * the check is not followed) and its descriptor confirmed inside the home (a folder on the way
   * swapped for a link is refused).
   */
  async openForReading(real: string): Promise<sessionFs.FileHandle> {
    return (await this.#files.openReal(real)).handle;
  }

  /** A new file, never one that exists or a link; its descriptor confirmed inside the home. */
  async createFile(real: string): Promise<sessionFs.FileHandle> {
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = sessionFs.constants;
    const handle = await sessionFs.open(this.#confined(real), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    // A folder on the way swapped for a link since it was resolved: the file was made elsewhere
    // (O_EXCL: by us, just now), so take it back before refusing.
    return this.#confirmed(handle, () => sessionFs.unlink(real));
  }

  async openForWriting(real: string): Promise<sessionFs.FileHandle> {
    return this.#confirmed(await sessionFs.open(this.#confined(real), sessionFs.constants.O_WRONLY | sessionFs.constants.O_NOFOLLOW));
  }

  /**
   * Give a file a second name that must not exist yet (link(2) refuses a taken name with EEXIST,
   * where a rename would replace it): publishing an upload without ever clobbering a file that
   * appeared meanwhile. The caller removes the first name afterwards.
   */
  async linkNew(from: string, to: string): Promise<void> {
    await sessionFs.link(this.#confined(from), this.#confined(to));
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

  async #confirmed(handle: sessionFs.FileHandle, undo?: () => Promise<void>): Promise<sessionFs.FileHandle> {
    try {
      await this.#files.confirmInside(handle);
      return handle;
    } catch (error) {
      await handle.close().catch(() => {});
      await undo?.().catch(() => {});
      throw replyForFsError(error, 'upload');
    }
  }

  #confined(real: string): string {
    if (!this.#files.contains(real)) throw new FtpReplyError(550, 'Permission denied: the path leads outside your home.');
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
