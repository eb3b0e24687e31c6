/**
 * Where a requested file name lands on disk, and the rules that keep it inside the root.
 *
 * - A name is split on `/`; empty and `.` segments are dropped, so `/pxelinux.0`, `./a` and `a`
 *   are the same file: absolute names are taken relative to the root, as `tftpd -s` does (PXE
 *   ROMs and switches send both forms).
 * - A `..` segment, a backslash, a NUL or any other control character is refused outright.
 * - Nothing is decoded: `%2e%2e` is a file literally called `%2e%2e`. Names that are not valid
 *   UTF-8 (overlong encodings of `.` or `/` included) never get here: the packet parser refuses them.
 * - The result goes through realpath and must still be inside the root's realpath, so a symlink
 *   that points out of the root is refused while one that stays inside is followed.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { TftpErrorCode } from './protocol.js';

/** A refusal with the TFTP error code to answer with. */
export class TftpRefusal extends Error {
  readonly tftpCode: number;
  constructor(tftpCode: number, message: string) {
    super(message);
    this.name = 'TftpRefusal';
    this.tftpCode = tftpCode;
  }
}

const MAX_NAME_BYTES = 1024;
const MAX_SEGMENTS = 64;
const MAX_SEGMENT_BYTES = 255;

/** The path segments of a requested name, or a refusal (access violation). Pure. */
export function safeSegments(name: string): string[] {
  const deny = (why: string) => new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, `access violation: ${why}`);
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw deny('the file name is too long');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw deny('control characters are not allowed in file names');
  if (name.includes('\\')) throw deny('backslashes are not allowed in file names');
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.some((segment) => segment === '..')) throw deny('".." is not allowed in file names');
  if (segments.length === 0) throw deny('the name does not name a file');
  if (segments.length > MAX_SEGMENTS) throw deny('the path is too deep');
  if (segments.some((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)) throw deny('a path segment is too long');
  return segments;
}

function inside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(sep) ? root : root + sep);
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

export interface OpenedFile {
  handle: FileHandle;
  size: number;
  /** The open file's own status (identity and version, for the file cache). */
  info: Stats;
  /** Resolved path, for logs. */
  path: string;
}

/** Open `name` under `root` (a realpath) for reading, or throw a TftpRefusal. */
export async function openForRead(root: string, name: string): Promise<OpenedFile> {
  const candidate = join(root, ...safeSegments(name));
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new TftpRefusal(TftpErrorCode.FILE_NOT_FOUND, 'file not found');
    if (code === 'EACCES') throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: permission denied');
    if (code === 'ELOOP') throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: too many symbolic links');
    throw error;
  }
  if (!inside(root, real)) throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: the path leads outside the TFTP root');
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: the realpath must not have become a symlink since; O_NONBLOCK: a FIFO must not hang us.
    handle = await open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') throw new TftpRefusal(TftpErrorCode.FILE_NOT_FOUND, 'file not found');
    if (code === 'EACCES' || code === 'ELOOP' || code === 'EPERM') throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: permission denied');
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new TftpRefusal(info.isDirectory() ? TftpErrorCode.FILE_NOT_FOUND : TftpErrorCode.ACCESS_VIOLATION, info.isDirectory() ? 'file not found (that is a directory)' : 'access violation: not a regular file');
    return { handle, size: info.size, info, path: real };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

export interface WriteTarget {
  /** The realpath of the directory the file goes into. */
  directory: string;
  /** The final path (directory + last segment). */
  path: string;
  /** Whether a file is there now (only possible with allowOverwrite). */
  exists: boolean;
}

/** Where an upload of `name` goes, or a TftpRefusal (writes off, exists, escapes, no directory). */
export async function resolveWriteTarget(root: string, name: string, allowOverwrite: boolean): Promise<WriteTarget> {
  const segments = safeSegments(name);
  const base = segments[segments.length - 1]!;
  const parent = dirname(join(root, ...segments));
  let directory: string;
  try {
    directory = await realpath(parent);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new TftpRefusal(TftpErrorCode.FILE_NOT_FOUND, 'the directory does not exist');
    throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: cannot reach that directory');
  }
  if (!inside(root, directory)) throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: the path leads outside the TFTP root');
  const info = await stat(directory);
  if (!info.isDirectory()) throw new TftpRefusal(TftpErrorCode.FILE_NOT_FOUND, 'the directory does not exist');
  const path = join(directory, base);
  let exists = false;
  try {
    const existing = await lstat(path);
    exists = true;
    // Never write through a symlink (it could point anywhere) or over a directory or device.
    if (!existing.isFile()) throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: not a regular file');
  } catch (error) {
    if (error instanceof TftpRefusal) throw error;
    if (errnoCode(error) !== 'ENOENT') throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: cannot check the file');
  }
  if (exists && !allowOverwrite) throw new TftpRefusal(TftpErrorCode.FILE_EXISTS, 'file already exists (the server does not overwrite)');
  return { directory, path, exists };
}
