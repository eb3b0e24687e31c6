/**
 * `get` and `put` for `wharf ftp` and its shell, safe to use on files a person owns:
 *
 * - a download goes to `.NAME.wharf-part` beside the target and is renamed over it when whole, so
 *   a failure never touches the target; an interrupted download is kept there, with a sidecar
 *   `.NAME.wharf-part.json` saying which remote file (size, time) it is the start of, and the next
 *   `get` of that file resumes it;
 * - `get`/`put` replace the other side's file (as ftp(1) and lftp do); they append to it only when
 *   asked (`-c`), and only after the bytes already there are shown to be the start of the source:
 *   by the server's HASH (SHA-256 with RANG), or, where the server has none, not without --force.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { UsageError, WharfError, codeForErrno, isErrnoException, type WharfErrorCode } from '../../core/errors.js';
import { formatBytes } from '../../core/human-size.js';
import { TransferProgress } from '../../core/progress.js';
import type { FtpClient } from './client.js';

export interface TransferFlags {
  /** Continue what the other side has (`-c`, `--resume`). */
  resume: boolean;
  /** Resume even when the server cannot show the bytes are the same (no HASH). */
  force: boolean;
  progress: boolean;
  limitRate?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface TransferIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** What a partial download's sidecar records: the remote file it is the start of. */
interface PartialInfo {
  remote: string;
  size: number;
  modified: string | null;
}

/** A local path as the user reads it: relative to the current folder when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

export function partialPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.wharf-part`);
}

const sidecarFor = (partial: string) => `${partial}.json`;

async function readPartialInfo(partial: string): Promise<PartialInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(sidecarFor(partial), 'utf8')) as Partial<PartialInfo>;
    if (typeof info.remote !== 'string' || typeof info.size !== 'number') return undefined;
    return { remote: info.remote, size: info.size, modified: typeof info.modified === 'string' ? info.modified : null };
  } catch {
    return undefined;
  }
}

async function removePartial(partial: string): Promise<void> {
  await unlink(partial).catch(() => {});
  await unlink(sidecarFor(partial)).catch(() => {});
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/** SHA-256 of the first `length` bytes of a local file, streamed. */
function localPrefixSha256(path: string, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

type PrefixCheck = 'same' | 'different' | 'unknown';

/** Are the first `length` bytes of `local` the same as those of `remote` on the server? */
async function samePrefix(client: FtpClient, remote: string, local: string, length: number): Promise<PrefixCheck> {
  const theirs = await client.sha256(remote, { start: 0, end: length - 1 });
  if (!theirs) return 'unknown';
  if (theirs.range.start !== 0 || theirs.range.end !== length - 1) return 'different';
  return theirs.hex === (await localPrefixSha256(local, length)) ? 'same' : 'different';
}

function refuseUnverified(check: PrefixCheck, what: string, flags: TransferFlags, plain: string): void {
  if (check === 'different') throw new WharfError('ERESUME', `${what}: the bytes already there are not the start of the file (SHA-256 differs); not resuming. \`${plain}\` without -c replaces it.`);
  if (check === 'unknown' && !flags.force)
    throw new WharfError('ERESUME', `${what}: the server has no HASH command, so wharf cannot check that the bytes already there are the start of the file; not resuming. \`${plain}\` without -c replaces it; --force resumes unchecked.`);
}

function interrupted(error: unknown, flags: TransferFlags): boolean {
  return flags.signal?.aborted === true || (error instanceof WharfError && error.code === 'EABORTED');
}

/** A local file system's refusal (EACCES, ENOSPC, ENOENT …) as one sentence, not a stack trace. */
async function sayingWhy(label: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof WharfError || !isErrnoException(error)) throw error;
    const where = typeof (error as NodeJS.ErrnoException).path === 'string' ? ` ${shown((error as NodeJS.ErrnoException).path as string)}` : '';
    throw new WharfError(codeForErrno(error.code), `${label}:${where}: ${error.code === 'ENOENT' ? 'no such file or folder' : error.code === 'EACCES' ? 'permission denied' : error.message}`, { cause: error });
  }
}

/** RETR `remote` to `local` (a file, a folder, or `-` for stdout). */
export function getFile(client: FtpClient, remote: string, local: string | undefined, flags: TransferFlags, io: TransferIo): Promise<void> {
  return sayingWhy(`get ${remote}`, () => getFileUnchecked(client, remote, local, flags, io));
}

async function getFileUnchecked(client: FtpClient, remote: string, local: string | undefined, flags: TransferFlags, io: TransferIo): Promise<void> {
  if (local === '-') return getToStdout(client, remote, flags, io);
  let target = local ?? basename(remote);
  if (existsSync(target) && statSync(target).isDirectory()) target = join(target, basename(remote));
  const label = `get ${remote}`;
  const size = await client.size(remote);
  const modified = (await client.modified(remote))?.toISOString() ?? null;
  const partial = partialPathFor(target);
  const targetSize = await sizeOf(target);

  // Resume the user's own file in place: asked for, and only once its bytes are shown to be the start of the remote file.
  if (flags.resume && targetSize !== undefined && targetSize > 0) {
    if (size !== undefined && targetSize > size) throw new WharfError('ERESUME', `${shown(target)} (${formatBytes(targetSize)}) is larger than ${remote} (${formatBytes(size)}): not the same file; \`get\` without -c replaces it.`);
    refuseUnverified(await samePrefix(client, remote, target, targetSize), shown(target), flags, 'get');
    if (targetSize === size) {
      io.stderr.write(`${label}: ${shown(target)} is already complete (${formatBytes(size)})\n`);
      return;
    }
    await receive(client, remote, target, targetSize, size, flags, io, label);
    return;
  }

  // A partial wharf left: resume it when it is the start of this same remote file.
  let offset = 0;
  const partialSize = await sizeOf(partial);
  if (partialSize !== undefined && partialSize > 0) {
    const info = await readPartialInfo(partial);
    const sameFile = info !== undefined && info.remote === remote && info.size === size && info.modified === modified && partialSize <= (size ?? 0);
    const check = sameFile ? await samePrefix(client, remote, partial, partialSize) : 'different';
    if (check === 'different') io.stderr.write(`${label}: ${shown(partial)} is from another version of the file: starting again\n`);
    else {
      offset = partialSize;
      io.stderr.write(`${label}: resuming wharf's partial download ${shown(partial)} (${formatBytes(partialSize)} of ${formatBytes(size ?? 0)})\n`);
    }
  }
  if (offset === 0) {
    await removePartial(partial);
    if (size !== undefined) await writeFile(sidecarFor(partial), `${JSON.stringify({ remote, size, modified } satisfies PartialInfo)}\n`);
  }
  try {
    await receive(client, remote, partial, offset, size, flags, io, label);
  } catch (error) {
    const kept = (await sizeOf(partial)) ?? 0;
    if (kept > 0 && size !== undefined) {
      const why = interrupted(error, flags) ? 'interrupted' : 'failed';
      throw new WharfError(interrupted(error, flags) ? 'EABORTED' : errorCode(error), `${label}: ${why}${why === 'failed' ? ` (${(error as Error).message})` : ''}; ${formatBytes(kept)} of ${formatBytes(size)} kept in ${shown(partial)}; \`get ${remote}\` again resumes.`, { cause: error });
    }
    await removePartial(partial);
    throw error;
  }
  await rename(partial, target);
  await unlink(sidecarFor(partial)).catch(() => {});
}

function errorCode(error: unknown): WharfErrorCode {
  return error instanceof WharfError ? error.code : 'EFTP';
}

/** RETR into `path` from `offset` (REST), with a progress bar naming the remote file. */
async function receive(client: FtpClient, remote: string, path: string, offset: number, size: number | undefined, flags: TransferFlags, io: TransferIo, label: string): Promise<void> {
  const destination = createWriteStream(path, { flags: offset > 0 ? 'r+' : 'w', start: offset });
  const progress = new TransferProgress({ stream: io.stderr, label, total: size, offset, enabled: flags.progress });
  let ok = false;
  try {
    await client.download(remote, destination, { offset, limitRate: flags.limitRate, signal: flags.signal, onProgress: (n) => progress.update(n) });
    ok = true;
  } finally {
    // Closed only after every write it took has landed: what is on disk is then a true prefix.
    destination.destroy();
    if (!destination.closed) await once(destination, 'close');
    progress.finish(ok);
  }
}

async function getToStdout(client: FtpClient, remote: string, flags: TransferFlags, io: TransferIo): Promise<void> {
  const destination = new Writable({ write: (chunk, _e, cb) => void io.stdout.write(chunk, cb) });
  await client.download(remote, destination, { limitRate: flags.limitRate, signal: flags.signal });
}

/** STOR `local` as `remote` (a name, or a folder ending in `/`). */
export function putFile(client: FtpClient, local: string, remote: string | undefined, flags: TransferFlags, io: TransferIo): Promise<void> {
  return sayingWhy(`put ${shown(local)}`, () => putFileUnchecked(client, local, remote, flags, io));
}

async function putFileUnchecked(client: FtpClient, local: string, remote: string | undefined, flags: TransferFlags, io: TransferIo): Promise<void> {
  let info;
  try {
    info = await stat(local);
  } catch {
    throw new UsageError(`${local}: no such file`);
  }
  if (!info.isFile()) throw new UsageError(`${local}: not a file`);
  let target = remote ?? basename(local);
  if (target.endsWith('/')) target += basename(local);
  const label = `put ${target}`;
  let offset = 0;
  if (flags.resume) {
    // SIZE answers what the server has (on wharf, an interrupted upload's partial too).
    offset = (await client.size(target)) ?? 0;
    if (offset > info.size) throw new WharfError('ERESUME', `${target} on the server (${formatBytes(offset)}) is larger than ${shown(local)} (${formatBytes(info.size)}): not the same file; \`put\` without -c replaces it.`);
    if (offset > 0) refuseUnverified(await samePrefix(client, target, local, offset), `${target} on the server`, flags, 'put');
    if (offset > 0 && offset === info.size) {
      io.stderr.write(`${label}: already complete on the server (${formatBytes(info.size)})\n`);
      return;
    }
  }
  const refusal = await client.allocate(info.size - offset);
  if (refusal !== undefined) {
    const reason = /does not fit: (.*?)\.?$/.exec(refusal)?.[1] ?? refusal;
    throw new WharfError('EQUOTA', `${basename(local)} (${formatBytes(info.size - offset)}) does not fit: ${reason}`);
  }
  const progress = new TransferProgress({ stream: io.stderr, label, total: info.size, offset, enabled: flags.progress });
  let ok = false;
  try {
    await client.upload(createReadStream(local, { start: offset, highWaterMark: 1024 * 1024 }), target, { offset, limitRate: flags.limitRate, signal: flags.signal, onProgress: (n) => progress.update(n) });
    ok = true;
  } catch (error) {
    if (!interrupted(error, flags)) throw error;
    const sent = offset + progress.moved;
    throw new WharfError('EABORTED', `${label}: interrupted after sending ${formatBytes(sent)} of ${formatBytes(info.size)}; a wharf server keeps what it received: \`put -c ${shown(local)}${remote ? ` ${remote}` : ''}\` resumes.`, { cause: error });
  } finally {
    progress.finish(ok);
  }
}
