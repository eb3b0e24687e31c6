/**
 * What the seed front ends do with files, over the FTP service's homes: every name goes through
 * `resolveVirtualPath` and `Home` (nothing leaves the home), an upload is written to a hidden
 * working file and renamed into place when complete, quota is reserved through the store before
 * the bytes are written, and the FTP server's upload locks keep two writers off one file. An
 * interrupted seed 002 upload is kept as the same partial file FTP's REST/APPE resume, and the
 * other way round.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { WharfError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Store } from '../../store/index.js';
import { FtpReplyError, Home, type NewEntry } from './files.js';
import { partialNameFor, resolveVirtualPath, uploadTempName } from './protocol/paths.js';

/** What the seed front ends share with the FTP server they stand beside. */
export interface SeedFilesContext {
  store: Store;
  logger: Logger;
  /** `<root>/users`: one home per account. */
  usersRoot: string;
  /** The FTP server's: the real paths of files being uploaded now. */
  uploadLocks: Set<string>;
  /** The FTP server's: working files of uploads alive in this process (crash recovery skips them). */
  workingFiles: Set<string>;
  /** Largest file a seed client may send, whatever its quota. */
  maxFileBytes: number;
}

/** A refusal a seed protocol turns into its own reply (`FAIL`, a Chinese sentence, an error frame). */
export class SeedRefusal extends Error {
  readonly reason: 'bad-name' | 'exists' | 'missing' | 'busy' | 'quota' | 'too-large' | 'io';
  constructor(reason: SeedRefusal['reason'], message: string) {
    super(message);
    this.name = 'SeedRefusal';
    this.reason = reason;
  }
}

export function openAccountHome(ctx: SeedFilesContext, account: string): Promise<Home> {
  return Home.open(join(ctx.usersRoot, account), { writable: true, owner: account });
}

/** A seed client's file name as one name in the home's top folder (the seeds' file stores are flat). */
export function topLevelName(name: string): string[] {
  const resolved = resolveVirtualPath('/', name);
  if (!resolved.ok || resolved.segments.length !== 1) throw new SeedRefusal('bad-name', `"${name}" is not a plain file name`);
  return resolved.segments;
}

/** An existing plain file in the home, or a refusal. */
export async function existingFile(home: Home, name: string): Promise<{ real: string; size: number }> {
  const segments = topLevelName(name);
  let entry;
  try {
    entry = await home.existing(segments, name);
  } catch (error) {
    if (error instanceof FtpReplyError) throw new SeedRefusal('missing', error.message);
    throw error;
  }
  if (!entry.stats.isFile()) throw new SeedRefusal('missing', `${name}: not a plain file`);
  return { real: entry.real, size: entry.stats.size };
}

async function sizeOrUndefined(path: string): Promise<number | undefined> {
  try {
    const stats = await lstat(path);
    return stats.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}

export interface UploadOptions {
  /** Refuse when a file of that name is there (seed 000's STOR). */
  refuseExisting?: boolean;
  /** Continue the partial of an interrupted upload, if there is one (seed 002's resume). */
  resume?: boolean;
  /** The final size when the protocol says it up front: checked against the limit and reserved at once. */
  size?: number;
}

const RESERVE_STEP = 1024 * 1024;

/**
 * One upload into a home. `start` is where it continues (the partial's size when resuming).
 * Call `write` in order, then `finish` (publish) or `abandon` (keep the bytes as a partial when
 * the upload was resumable, else remove them). Either of those must be called exactly once.
 */
export class SeedUpload {
  readonly start: number;
  readonly #ctx: SeedFilesContext;
  readonly #account: string;
  readonly #target: NewEntry;
  readonly #working: string;
  readonly #partial: string;
  readonly #resumable: boolean;
  readonly #handle: FileHandle;
  #position: number;
  #reserved = 0;
  #written = 0;

  private constructor(ctx: SeedFilesContext, account: string, target: NewEntry, working: string, partial: string, resumable: boolean, handle: FileHandle, start: number) {
    this.#ctx = ctx;
    this.#account = account;
    this.#target = target;
    this.#working = working;
    this.#partial = partial;
    this.#resumable = resumable;
    this.#handle = handle;
    this.start = start;
    this.#position = start;
  }

  static async begin(ctx: SeedFilesContext, home: Home, account: string, name: string, options: UploadOptions = {}): Promise<SeedUpload> {
    if (options.size !== undefined && options.size > ctx.maxFileBytes) {
      throw new SeedRefusal('too-large', `${name}: ${options.size} bytes is more than the limit of ${ctx.maxFileBytes}`);
    }
    let target: NewEntry;
    try {
      target = await home.creatable(topLevelName(name), name);
    } catch (error) {
      if (error instanceof FtpReplyError) throw new SeedRefusal('bad-name', error.message);
      throw error;
    }
    if (target.existing && !target.existing.isFile()) throw new SeedRefusal('bad-name', `${name}: not a plain file`);
    if (options.refuseExisting && target.existing) throw new SeedRefusal('exists', `${name}: already exists`);
    if (ctx.uploadLocks.has(target.real)) throw new SeedRefusal('busy', `${name}: an upload of this file is in progress`);
    ctx.uploadLocks.add(target.real);
    try {
      return await SeedUpload.#open(ctx, account, target, options);
    } catch (error) {
      ctx.uploadLocks.delete(target.real);
      throw error;
    }
  }

  static async #open(ctx: SeedFilesContext, account: string, target: NewEntry, options: UploadOptions): Promise<SeedUpload> {
    const partial = join(target.parent, partialNameFor(target.name));
    const partialSize = await sizeOrUndefined(partial);
    const resumable = options.resume === true;
    const size = options.size;
    if (resumable && partialSize !== undefined && (size === undefined || partialSize <= size)) {
      const handle = await open(partial, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
      const upload = new SeedUpload(ctx, account, target, partial, partial, true, handle, partialSize);
      if (size !== undefined) await upload.#reserveOrClose(size - partialSize);
      return upload;
    }
    if (partialSize !== undefined) {
      // A new upload from the start supersedes an interrupted one (as FTP's STOR does).
      await unlink(partial);
      await releaseQuietly(ctx, account, partialSize);
    }
    const working = join(target.parent, uploadTempName(randomBytes(8).toString('hex'), target.name, process.pid));
    ctx.workingFiles.add(working);
    try {
      const handle = await open(working, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
      const upload = new SeedUpload(ctx, account, target, working, partial, resumable, handle, 0);
      if (size !== undefined) await upload.#reserveOrClose(size);
      return upload;
    } catch (error) {
      ctx.workingFiles.delete(working);
      await unlink(working).catch(() => {});
      throw error;
    }
  }

  get name(): string {
    return this.#target.name;
  }

  /** Bytes in the file now (what was resumed plus what this upload wrote). */
  get position(): number {
    return this.#position;
  }

  async #reserveOrClose(bytes: number): Promise<void> {
    try {
      await this.#reserve(bytes);
    } catch (error) {
      await this.#handle.close().catch(() => {});
      if (this.#working !== this.#partial) await unlink(this.#working).catch(() => {});
      this.#ctx.workingFiles.delete(this.#working);
      throw error;
    }
  }

  async #reserve(bytes: number): Promise<void> {
    if (bytes <= 0) return;
    try {
      await this.#ctx.store.quota.reserve(this.#account, bytes);
    } catch (error) {
      if (error instanceof WharfError && error.code === 'EQUOTA') throw new SeedRefusal('quota', error.message);
      throw error;
    }
    this.#reserved += bytes;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.#position + chunk.length > this.#ctx.maxFileBytes) {
      throw new SeedRefusal('too-large', `${this.#target.name}: more than the limit of ${this.#ctx.maxFileBytes} bytes`);
    }
    const need = this.#written + chunk.length - this.#reserved;
    if (need > 0) {
      try {
        await this.#reserve(Math.max(need, RESERVE_STEP));
      } catch (error) {
        // The step does not fit; maybe exactly what this chunk needs still does.
        if (!(error instanceof SeedRefusal) || need >= RESERVE_STEP) throw error;
        await this.#reserve(need);
      }
    }
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.#handle.write(chunk, offset, chunk.length - offset, this.#position);
      offset += bytesWritten;
      this.#position += bytesWritten;
      this.#written += bytesWritten;
    }
  }

  /** Publish the file under its name (replacing an older version, whose bytes leave the quota). */
  async finish(): Promise<void> {
    try {
      await this.#handle.close();
      const current = await lstat(this.#target.real).catch(() => undefined);
      if (current && !current.isFile()) throw new SeedRefusal('exists', `${this.#target.name}: something that is not a file appeared under this name`);
      await rename(this.#working, this.#target.real);
      if (current) await releaseQuietly(this.#ctx, this.#account, current.size);
    } catch (error) {
      await this.#discard();
      throw error;
    } finally {
      await this.#settle();
    }
  }

  /** The upload stopped short: keep its bytes as a partial when resumable, else remove them. */
  async abandon(): Promise<void> {
    await this.#handle.close().catch(() => {});
    try {
      if (this.#resumable && this.#position > 0) {
        if (this.#working !== this.#partial) await rename(this.#working, this.#partial);
      } else {
        await this.#discard();
      }
    } catch (error) {
      this.#ctx.logger.warn({ err: (error as Error).message, file: this.#target.name }, `${this.#account}: could not keep the partial upload of ${this.#target.name}`);
      await this.#discard();
    } finally {
      await this.#settle();
    }
  }

  async #discard(): Promise<void> {
    const size = await sizeOrUndefined(this.#working);
    await unlink(this.#working).catch(() => {});
    if (size !== undefined) await releaseQuietly(this.#ctx, this.#account, size - this.#written);
    // What this upload wrote is given back by #settle (reserved - written stays with the bytes otherwise).
    this.#written = 0;
  }

  async #settle(): Promise<void> {
    const unused = this.#reserved - this.#written;
    this.#reserved = this.#written;
    if (unused > 0) await releaseQuietly(this.#ctx, this.#account, unused);
    this.#ctx.workingFiles.delete(this.#working);
    this.#ctx.uploadLocks.delete(this.#target.real);
  }
}

async function releaseQuietly(ctx: SeedFilesContext, account: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  try {
    await ctx.store.quota.release(account, bytes);
  } catch (error) {
    ctx.logger.warn({ err: (error as Error).message, bytes }, `${account}: could not give ${bytes} bytes of quota back`);
  }
}

/** A refusal or the file system's error, as one sentence for the log. */
export function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
