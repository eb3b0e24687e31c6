/**
 * The jail's path arithmetic, pure: where an argument leads inside a home, the server's own hidden
 * names, and the names of an upload's working and partial files.
 */
import { printable } from './commands.js';

/** Longest path argument, in bytes of UTF-8, and the longest single name (as Linux allows). */
export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;

/** Files the server keeps for itself beside users' files: hidden, and refused as names. */
export const INTERNAL_PREFIX = '.wharf-';

export function isInternalName(name: string): boolean {
  return name.startsWith(INTERNAL_PREFIX);
}

export type VirtualPath = { ok: true; path: string; segments: string[] } | { ok: false; code: number; message: string };

/**
 * Where an argument leads, as a virtual absolute path inside the user's home (`/` is the home).
 * Pure string arithmetic: relative arguments start at `cwd`; `.` and empty segments vanish; `..`
 * takes a segment off, and one that would climb above `/` is refused (not clamped: a client that
 * asks for `../../etc/passwd` gets a clear "no" rather than some other file). Nothing is decoded
 * (`%2e%2e` is a name like any other). NUL and control characters are refused, and so are the
 * server's own `.wharf-*` names. The server then resolves symlinks with realpath and checks again.
 */
export function resolveVirtualPath(cwd: string, argument: string): VirtualPath {
  const deny = (message: string, code = 550): VirtualPath => ({ ok: false, code, message });
  if (Buffer.byteLength(argument) > MAX_PATH_BYTES) return deny('Path too long.', 501);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(argument)) return deny('Control characters are not allowed in paths.', 501);
  const start = argument.startsWith('/') ? [] : cwd.split('/').filter((s) => s !== '');
  const segments = [...start];
  for (const segment of argument.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return deny('Permission denied: the path leads outside your home.');
      segments.pop();
      continue;
    }
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) return deny('File name too long.', 553);
    if (isInternalName(segment)) return deny(`"${printable(segment)}" is a name reserved by the server.`, 553);
    segments.push(segment);
  }
  return { ok: true, path: `/${segments.join('/')}`, segments };
}

/** The parent of a virtual path (`/` is its own parent). */
export function virtualParent(path: string): string {
  const segments = path.split('/').filter((s) => s !== '');
  segments.pop();
  return `/${segments.join('/')}`;
}

/** The last name of a virtual path ('' for `/`). */
export function virtualBaseName(path: string): string {
  const segments = path.split('/').filter((s) => s !== '');
  return segments[segments.length - 1] ?? '';
}

const PARTIAL_PREFIX = `${INTERNAL_PREFIX}partial.`;
const WORKING_PREFIX = `${INTERNAL_PREFIX}upload.`;
/**
 * Longest name an upload's hidden files carry as it is: a working file's name adds the prefix,
 * the process id (at most 7 digits on Linux), 16 hex digits and two dots, and must stay within
 * 255 bytes. Longer names carry a digest instead.
 */
const MAX_PLAIN_UPLOAD_KEY_BYTES = MAX_NAME_BYTES - WORKING_PREFIX.length - 7 - 16 - 2;

/** What an upload's hidden files say about the file they belong to: its name, or a digest of a long one. */
function uploadKey(name: string): string {
  return Buffer.byteLength(name) <= MAX_PLAIN_UPLOAD_KEY_BYTES ? name : `#${fnv1a64(name)}`;
}

/** The hidden file that holds the bytes of an interrupted upload of `name` (see docs/ftp.md). */
export function partialNameFor(name: string): string {
  return `${PARTIAL_PREFIX}${uploadKey(name)}`;
}

/**
 * The hidden working file of one upload of `name` in progress: `.wharf-upload.<pid>.<unique>.<name>`.
 * The process id tells a later process whether the upload's writer is still alive, and the name
 * which partial its bytes become when it is not (after a crash: see `partialForWorkingName`).
 */
export function uploadTempName(unique: string, name: string, pid: number): string {
  return `${WORKING_PREFIX}${pid}.${unique}.${uploadKey(name)}`;
}

/** The writer's process id and the partial file name of a working file's name; undefined for any other name. */
export function partialForWorkingName(fileName: string): { pid: number; partial: string } | undefined {
  if (!fileName.startsWith(WORKING_PREFIX)) return undefined;
  const match = /^(\d{1,7})\.[0-9a-f]{16}\.(.+)$/s.exec(fileName.slice(WORKING_PREFIX.length));
  if (!match) return undefined;
  return { pid: Number(match[1]), partial: `${PARTIAL_PREFIX}${match[2] as string}` };
}

/** FNV-1a, 64 bits, hex: a short stable digest (not for security; names come from the user anyway). */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}
