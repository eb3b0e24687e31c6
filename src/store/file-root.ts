/**
 * A folder that paths from the network never leave: the one confinement FTP homes, the TFTP root
 * and the web root share (after pyftpdlib's `AbstractedFS`).
 *
 * A protocol first turns what its peer sent into path segments by its own rules (FTP's `cd ..`
 * within the home, TFTP's absolute names, the web's percent-decoding); those rules are pure and
 * live in its protocol.ts. The segments then meet the disk here, in three steps:
 *
 * 1. **Lexically**: every segment is a single name. Empty, `.`, `..`, anything holding `/`, NUL or
 *    another control character, more than 255 bytes, or a path over 4096 bytes is refused, so a
 *    protocol whose parser lets something through still cannot name a place outside the root.
 * 2. **After symlinks**: an existing path goes through realpath and must still be inside the
 *    root's realpath (a symlink planted toward `/` is refused; one that stays inside is followed).
 *    A path about to be created must have its parent inside, and its own name must not be a symlink.
 * 3. **At open**: files are opened with O_NOFOLLOW (a symlink swapped in for the last name after the
 *    check is not followed) and O_NONBLOCK (a FIFO cannot hang the server), and on Linux the
 *    opened descriptor's own path (`/proc/self/fd/N`) is checked once more, which closes the race
 *    of a folder on the way being swapped for a symlink between realpath and open.
 *
 * Every expected "no" is one typed error, `FileRootRefusal`, whose `reason` each protocol maps to
 * its own reply (FTP 550/553, TFTP "Access violation"/"File not found", HTTP 403/404). Anything
 * else (EIO, EMFILE) is thrown as it came: a server fault, not the peer's mistake.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';

/** Why a path was refused; each protocol turns this into its own reply. */
export type FileRootRefusalReason =
  /** The path, once symlinks are resolved, leads out of the root. */
  | 'outside-root'
  /** A segment no root accepts: empty, `.`, `..`, or holding `/`, NUL or another control character. */
  | 'bad-name'
  /** A name over 255 bytes, a path over 4096, or the file system said ENAMETOOLONG. */
  | 'too-long'
  /** Nothing there (ENOENT), or a path that goes through a file (ENOTDIR). */
  | 'not-found'
  /** A folder was needed (the parent of a new entry, a folder to list). */
  | 'not-a-directory'
  /** A regular file was needed and this is a folder. */
  | 'is-a-directory'
  /** A regular file was needed and this is something else (a FIFO, a device, a socket). */
  | 'not-a-file'
  /** A symbolic link where none may be: the name of a new entry, or a file swapped for a link before it was opened. */
  | 'symlink'
  /** Symbolic links on the way that never end (ELOOP while resolving). */
  | 'symlink-loop'
  /** The server's own permissions say no (EACCES, EPERM). */
  | 'permission-denied'
  /** The operation needs a name inside the root and was given the root itself. */
  | 'root-itself';

const SENTENCES: Record<FileRootRefusalReason, string> = {
  'outside-root': 'the path leads outside the root',
  'bad-name': 'the path holds a name that is not allowed',
  'too-long': 'the name or the path is too long',
  'not-found': 'no such file or folder',
  'not-a-directory': 'not a folder',
  'is-a-directory': 'is a folder',
  'not-a-file': 'not a regular file',
  symlink: 'is a symbolic link',
  'symlink-loop': 'too many symbolic links',
  'permission-denied': 'permission denied',
  'root-itself': 'that is the root folder itself',
};

/** The one refusal of a file root. `errno` is the file system's code when one caused it. */
export class FileRootRefusal extends Error {
  readonly reason: FileRootRefusalReason;
  readonly errno: string | undefined;
  constructor(reason: FileRootRefusalReason, errno?: string) {
    super(SENTENCES[reason]);
    this.name = 'FileRootRefusal';
    this.reason = reason;
    this.errno = errno;
  }
}

/** Longest single name and longest path, in bytes of UTF-8 (Linux's NAME_MAX and PATH_MAX). */
export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

/** Is `candidate` the root or below it? Both absolute, normalised (realpath) paths. Pure. */
export function isInsideRoot(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  return candidate.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The refusal for a segment list, or undefined when every segment is one plain name. Pure. */
export function segmentsProblem(segments: readonly string[]): FileRootRefusalReason | undefined {
  let total = 0;
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') return 'bad-name';
    // eslint-disable-next-line no-control-regex
    if (/[/\u0000-\u001f\u007f]/.test(segment)) return 'bad-name';
    const bytes = Buffer.byteLength(segment);
    if (bytes > MAX_NAME_BYTES) return 'too-long';
    total += bytes + 1;
  }
  return total > MAX_PATH_BYTES ? 'too-long' : undefined;
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

/** The refusal an errno stands for, or undefined for a fault that is nobody's request (EIO, EMFILE). */
export function refusalForErrno(error: unknown): FileRootRefusal | undefined {
  const code = errnoCode(error);
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new FileRootRefusal('not-found', code);
    case 'EACCES':
    case 'EPERM':
      return new FileRootRefusal('permission-denied', code);
    case 'ELOOP':
      return new FileRootRefusal('symlink-loop', code);
    case 'ENAMETOOLONG':
      return new FileRootRefusal('too-long', code);
    default:
      return undefined;
  }
}

/** Rethrow a file-system error as a refusal when it is one. */
function refuseOrRethrow(error: unknown): never {
  throw refusalForErrno(error) ?? error;
}

/** Flags for reading a file from a root: never through a symlink, never blocking on a FIFO. */
export const OPEN_READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

export interface ExistingEntry {
  /** Its realpath, inside the root. */
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

export interface OpenedFile {
  handle: FileHandle;
  /** The open file's own status (fstat): what is sent is what was checked. */
  stats: Stats;
  real: string;
}

export interface ListedEntry {
  name: string;
  /** The entry's status, of the target for a symlink that stays inside the root. */
  stats: Stats;
}

export interface ListOptions {
  /** Names left out of the listing (the server's own files, dotfiles). */
  hidden?: (name: string) => boolean;
  /** At most this many names are looked at (a folder of a million files is not stat()ed whole). */
  limit?: number;
}

/** Where Linux shows an open descriptor's path; elsewhere the check at open is skipped. */
const FD_LINKS = process.platform === 'linux' ? '/proc/self/fd' : undefined;

/**
 * Where an open file really is, as the kernel says (Linux: `/proc/self/fd/N`), symlinks resolved;
 * undefined where it does not say. A file deleted since it was opened is still at its old place.
 */
export async function descriptorPath(handle: FileHandle): Promise<string | undefined> {
  if (FD_LINKS === undefined) return undefined;
  try {
    return (await readlink(`${FD_LINKS}/${handle.fd}`)).replace(/ \(deleted\)$/, '');
  } catch {
    return undefined;
  }
}

export class FileRoot {
  /** The root's realpath. */
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Pin a folder's realpath, making the folder first when `create` says so. */
  static async open(folder: string, options: { create?: boolean; mode?: number } = {}): Promise<FileRoot> {
    if (options.create) await mkdir(folder, { recursive: true, mode: options.mode ?? 0o755 });
    return new FileRoot(await realpath(folder));
  }

  /** A root at a path the caller has already resolved with realpath (no disk access). */
  static atRealPath(path: string): FileRoot {
    return new FileRoot(path);
  }

  /** Is this realpath the root or inside it? */
  contains(real: string): boolean {
    return isInsideRoot(this.path, real);
  }

  /** Where segments lead before any symlink is resolved; refuses what is not a plain name. */
  lexical(segments: readonly string[]): string {
    const problem = segmentsProblem(segments);
    if (problem !== undefined) throw new FileRootRefusal(problem);
    return join(this.path, ...segments);
  }

  /** The realpath of an existing path, inside the root. */
  async realpath(segments: readonly string[]): Promise<string> {
    const lexical = this.lexical(segments);
    let real: string;
    try {
      real = await realpath(lexical);
    } catch (error) {
      refuseOrRethrow(error);
    }
    if (!this.contains(real)) throw new FileRootRefusal('outside-root');
    return real;
  }

  /** An existing file or folder, symlinks resolved, inside the root. */
  async existing(segments: readonly string[]): Promise<ExistingEntry> {
    // One stat first: a miss (most of a 404 flood) ends here, without realpath's lstat of every
    // folder on the way. What is returned comes from the realpath and a stat of it, not from this.
    try {
      await stat(this.lexical(segments));
    } catch (error) {
      if (error instanceof FileRootRefusal) throw error;
      refuseOrRethrow(error);
    }
    const real = await this.realpath(segments);
    try {
      return { real, stats: await stat(real) };
    } catch (error) {
      refuseOrRethrow(error);
    }
  }

  /** An existing folder inside the root. */
  async folder(segments: readonly string[]): Promise<ExistingEntry> {
    const entry = await this.existing(segments);
    if (!entry.stats.isDirectory()) throw new FileRootRefusal('not-a-directory');
    return entry;
  }

  /** Somewhere a new entry may go: the parent is a folder inside the root and the name is not a symlink. */
  async creatable(segments: readonly string[]): Promise<NewEntry> {
    const name = segments[segments.length - 1];
    if (name === undefined) throw new FileRootRefusal('root-itself');
    this.lexical(segments); // the new name too, not only the parent's
    const parent = await this.folder(segments.slice(0, -1));
    const real = join(parent.real, name);
    let existing: Stats | undefined;
    try {
      existing = await lstat(real);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') refuseOrRethrow(error);
    }
    if (existing?.isSymbolicLink()) throw new FileRootRefusal('symlink');
    return { parent: parent.real, name, real, existing };
  }

  /** Open an existing regular file inside the root for reading. */
  async openFile(segments: readonly string[]): Promise<OpenedFile> {
    return this.openReal(await this.realpath(segments));
  }

  /**
   * Open a regular file for reading by a realpath this root gave out. What was checked may have
   * changed since; the open and the descriptor's own path say what was really opened.
   */
  async openReal(real: string): Promise<OpenedFile> {
    if (!this.contains(real)) throw new FileRootRefusal('outside-root');
    let handle: FileHandle;
    try {
      handle = await open(real, OPEN_READ_FLAGS);
    } catch (error) {
      // O_NOFOLLOW said no: the file became a symlink after it was resolved.
      if (errnoCode(error) === 'ELOOP') throw new FileRootRefusal('symlink', 'ELOOP');
      refuseOrRethrow(error);
    }
    try {
      await this.confirmInside(handle);
      const stats = await handle.stat();
      if (stats.isDirectory()) throw new FileRootRefusal('is-a-directory');
      if (!stats.isFile()) throw new FileRootRefusal('not-a-file');
      return { handle, stats, real };
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Refuse an open descriptor whose path is outside the root: a folder on the way was swapped for
   * a symlink between the realpath and the open. Where the kernel does not say (no /proc), the
   * realpath check stands alone.
   */
  async confirmInside(handle: FileHandle): Promise<void> {
    const opened = await descriptorPath(handle);
    if (opened !== undefined && !this.contains(opened)) throw new FileRootRefusal('outside-root');
  }

  /**
   * What a folder (a realpath from this root) holds: files and folders with their status. Symlinks
   * that lead out of the root, dangling ones, and entries that vanish meanwhile are left out.
   */
  async list(real: string, options: ListOptions = {}): Promise<ListedEntry[]> {
    if (!this.contains(real)) throw new FileRootRefusal('outside-root');
    let dirents;
    try {
      dirents = await readdir(real, { withFileTypes: true });
    } catch (error) {
      refuseOrRethrow(error);
    }
    const hidden = options.hidden;
    const visible = (hidden === undefined ? dirents : dirents.filter((d) => !hidden(d.name))).slice(0, options.limit ?? Infinity);
    const entries: ListedEntry[] = [];
    const batch = 64;
    for (let i = 0; i < visible.length; i += batch) {
      const found = await Promise.all(visible.slice(i, i + batch).map((d) => this.#listed(join(real, d.name), d.name, d.isSymbolicLink())));
      for (const entry of found) if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  /** The status of a realpath from this root (a symlink itself, not its target); undefined once gone. */
  async statusOf(real: string): Promise<Stats | undefined> {
    if (!this.contains(real)) throw new FileRootRefusal('outside-root');
    return lstat(real).catch(() => undefined);
  }

  async #listed(path: string, name: string, isLink: boolean): Promise<ListedEntry | undefined> {
    try {
      if (!isLink) return { name, stats: await lstat(path) };
      const target = await realpath(path);
      return this.contains(target) ? { name, stats: await stat(target) } : undefined;
    } catch {
      // Vanished meanwhile, or a dangling link: not listed.
      return undefined;
    }
  }
}
