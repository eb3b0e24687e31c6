/**
 * The home's refusals (store/file-root.ts's `FileRootRefusal`, the file system's errno, the
 * home's own confinement check) as the WharfError the portal answers with (core/portal-http.ts
 * turns its code into the HTTP status): the page gets a sentence, never a path on the server.
 */
import { WharfError, type WharfErrorCode } from '../../../core/errors.js';
import { FileRootRefusal, type FileRootRefusalReason } from '../../../store/file-root.js';
import { FtpReplyError } from '../files.js';

const REFUSAL_CODES: Record<FileRootRefusalReason, [WharfErrorCode, string]> = {
  'outside-root': ['EFORBIDDEN', 'the path leads outside your home'],
  'bad-name': ['EBADVALUE', 'the path holds a name that is not allowed'],
  'too-long': ['EBADVALUE', 'the name or the path is too long'],
  'not-found': ['EMISSING', 'no such file or folder'],
  'not-a-directory': ['EBADVALUE', 'not a folder'],
  'is-a-directory': ['EBADVALUE', 'is a folder'],
  'not-a-file': ['EBADVALUE', 'not a plain file'],
  symlink: ['EFORBIDDEN', 'is a symbolic link'],
  'symlink-loop': ['EFORBIDDEN', 'too many symbolic links'],
  'permission-denied': ['EDENIED', 'permission denied'],
  'root-itself': ['EBADVALUE', 'that is your home folder itself'],
};

const ERRNO_CODES: Record<string, [WharfErrorCode, string]> = {
  ENOENT: ['EMISSING', 'no such file or folder'],
  ENOTDIR: ['EMISSING', 'no such file or folder'],
  EEXIST: ['ETAKEN', 'that name is taken'],
  ENOTEMPTY: ['ETAKEN', 'the folder is not empty (delete what it holds first)'],
  EISDIR: ['EBADVALUE', 'is a folder'],
  EACCES: ['EDENIED', 'permission denied'],
  EPERM: ['EDENIED', 'permission denied'],
  ELOOP: ['EFORBIDDEN', 'is a symbolic link'],
  ENAMETOOLONG: ['EBADVALUE', 'the name or the path is too long'],
  EINVAL: ['EBADVALUE', 'not allowed (a folder cannot go inside itself)'],
  EXDEV: ['EBADVALUE', 'not allowed'],
  ENOSPC: ['EQUOTA', "the server's disk is full"],
  EDQUOT: ['EQUOTA', "the server's disk is full"],
};

/** `error` as a WharfError about `path` when it is a refusal; anything else (EIO, a bug) as it came. */
export function portalRefusal(error: unknown, path: string): unknown {
  if (error instanceof WharfError) return error;
  if (error instanceof FileRootRefusal) {
    const [code, sentence] = REFUSAL_CODES[error.reason];
    return new WharfError(code, `${path}: ${sentence}`);
  }
  if (error instanceof FtpReplyError) return new WharfError('EFORBIDDEN', `${path}: the path leads outside your home`);
  const errno = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  const known = errno === undefined ? undefined : ERRNO_CODES[errno];
  return known === undefined ? error : new WharfError(known[0], `${path}: ${known[1]}`);
}

/** Run a file operation; its refusals become the portal's. */
export async function refusingAs<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw portalRefusal(error, path);
  }
}
