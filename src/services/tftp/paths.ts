/**
 * Where a requested file name lands on disk, and the rules that keep it inside the root.
 *
 * - A name is split on `/`; empty and `.` segments are dropped, so `/pxelinux.0`, `./a` and `a`
 *   are the same file: absolute names are taken relative to the root, as `tftpd -s` does (PXE
 *   ROMs and switches send both forms).
 * - A `..` segment, a backslash, a NUL or any other control character is refused outright.
 * - Nothing is decoded: `%2e%2e` is a file literally called `%2e%2e`. Names that are not valid
 *   UTF-8 (overlong encodings of `.` or `/` included) never get here: the packet parser refuses them.
 * - The segments then go to the root's `FileRoot` (store/file-root.ts), which resolves symlinks
 *   and refuses what leads out of the root; here its refusals become TFTP error packets.
 */
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FileRoot, FileRootRefusal } from '../../store/file-root.js';
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

/**
 * The TFTP error packet a file root's refusal becomes. Reading, "not found" is the file; writing,
 * it is the folder the file would go into, and a symlink in the file's place is never written
 * through (it could point anywhere).
 */
function refusalFor(refusal: FileRootRefusal, writing: boolean): TftpRefusal {
  switch (refusal.reason) {
    case 'not-found':
    case 'not-a-directory':
      return new TftpRefusal(TftpErrorCode.FILE_NOT_FOUND, writing ? 'the directory does not exist' : 'file not found');
    case 'is-a-directory':
      return new TftpRefusal(TftpErrorCode.FILE_NOT_FOUND, 'file not found (that is a directory)');
    case 'outside-root':
      return new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: the path leads outside the TFTP root');
    case 'not-a-file':
      return new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: not a regular file');
    case 'symlink':
      return new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, writing ? 'access violation: not a regular file' : 'access violation: permission denied');
    default:
      return new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, `access violation: ${refusal.message}`);
  }
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
  const segments = safeSegments(name);
  try {
    const { handle, stats, real } = await FileRoot.atRealPath(root).openFile(segments);
    return { handle, size: stats.size, info: stats, path: real };
  } catch (error) {
    throw error instanceof FileRootRefusal ? refusalFor(error, false) : error;
  }
}

export interface WriteTarget {
  /** The realpath of the directory the file goes into. */
  directory: string;
  /** The final path (directory + last segment). */
  path: string;
  /** Whether a file is there now (only possible with allowOverwrite). */
  exists: boolean;
  /** The root it must stay in, for the sink to check the file it opens. */
  root: FileRoot;
}

/** Where an upload of `name` goes, or a TftpRefusal (writes off, exists, escapes, no directory). */
export async function resolveWriteTarget(root: string, name: string, allowOverwrite: boolean): Promise<WriteTarget> {
  const segments = safeSegments(name);
  const files = FileRoot.atRealPath(root);
  let target;
  try {
    target = await files.creatable(segments);
  } catch (error) {
    if (error instanceof FileRootRefusal) throw refusalFor(error, true);
    throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: cannot reach that directory');
  }
  // Never write over a directory or a device.
  if (target.existing !== undefined && !target.existing.isFile()) throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: not a regular file');
  if (target.existing !== undefined && !allowOverwrite) throw new TftpRefusal(TftpErrorCode.FILE_EXISTS, 'file already exists (the server does not overwrite)');
  return { directory: target.parent, path: target.real, exists: target.existing !== undefined, root: files };
}
