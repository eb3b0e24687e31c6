/**
 * The portal's resumable uploads (issue #19): a browser announces a file (`begin`), sends it in
 * chunks at the offset the server says it has (`write`), asks how much arrived after a dropped
 * connection or a page reload (`received`), and publishes it (`finish`).
 *
 * The bytes go to `<home>/.wharf-portal-uploads/<pid>.<id>`: a `.wharf-*` name, so FTP listings
 * never show it and no FTP or portal path can name it, and it is never the file's final name, so
 * nobody sees a file half-written. Quota is taken chunk by chunk before the chunk is written (the
 * same `Quota` FTP's STOR uses) and the whole announced size must fit what is left when the
 * upload is announced, less what the account's other unfinished uploads are still to bring. `finish` gives the file its name with link(2), which refuses a taken name,
 * or with rename(2) when the person asked to replace the file.
 *
 * The list of uploads lives in this process's memory: an upload survives a page reload, not a
 * server restart (its partial file is then removed, and its bytes given back, at the home's next
 * upload). Uploads untouched for `expireMs` (24 h) are removed with their bytes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { WharfError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { Quota } from '../../../store/quota.js';
import type { Home } from '../files.js';
import { writerAliveCheck } from '../recovery.js';
import type { BrowserPath } from './paths.js';
import { holdForQuota } from './quota-hold.js';
import { refusingAs } from './refusals.js';

/** The hidden folder of a home that holds the portal's uploads in progress. */
export const UPLOADS_FOLDER = '.wharf-portal-uploads';

export interface PortalUploadsOptions {
  quota: Pick<Quota, 'reserve' | 'release' | 'usage'>;
  logger: Logger;
  /** FTP's upload locks (real paths being written): a finish waits for none, it refuses. */
  uploadLocks: Set<string>;
  /** FTP's quota recounts under way, by account (quota-hold.ts). */
  recoveries?: Map<string, Promise<void>>;
  /** Largest chunk one PUT may carry. */
  maxChunkBytes: number;
  /** An upload untouched this long is removed. */
  expireMs: number;
  /** Uploads one account may have open at once. */
  maxUploadsPerAccount: number;
}

interface Upload {
  readonly id: string;
  readonly account: string;
  readonly home: Home;
  readonly target: BrowserPath;
  readonly size: number;
  readonly replace: boolean;
  /** The partial file's real path. */
  readonly partial: string;
  received: number;
  touched: number;
  /** A chunk is being written now. */
  busy: boolean;
  /** Cancelled while a chunk was being written: removed once that chunk ends. */
  abandoned: boolean;
}

export interface UploadState {
  id: string;
  path: string;
  size: number;
  received: number;
}

function stateOf(upload: Upload): UploadState {
  return { id: upload.id, path: upload.target.path, size: upload.size, received: upload.received };
}

export class PortalUploads {
  readonly #options: PortalUploadsOptions;
  readonly #uploads = new Map<string, Upload>();
  /**
   * Homes whose uploads folder is being or was swept of dead uploads in this process: every
   * announcement waits for its home's sweep, so that none creates a partial file the sweep would
   * take for a forgotten one.
   */
  readonly #swept = new Map<string, Promise<void>>();
  /** Announcements under way, per account: how many, and the bytes of those that passed the quota check. */
  readonly #announcing = new Map<string, { count: number; bytes: number }>();
  readonly #timer: NodeJS.Timeout;

  constructor(options: PortalUploadsOptions) {
    this.#options = options;
    this.#timer = setInterval(() => void this.expire(Date.now()), Math.min(options.expireMs / 4, 10 * 60_000));
    this.#timer.unref();
  }

  /** Announce an upload: refused at once when it cannot fit the quota or its name is taken. */
  async begin(account: string, home: Home, target: BrowserPath, size: number, replace: boolean): Promise<UploadState> {
    if (!Number.isSafeInteger(size) || size < 0) throw new WharfError('EBADVALUE', 'size: a whole number of bytes, 0 or more');
    // Counted before the first await: announcements sent at once (a drop of many files, or a
    // hostile page) see each other, so neither the bound nor the quota check is raced past.
    const announcing = this.#announcing.get(account) ?? { count: 0, bytes: 0 };
    const open = this.#openOf(account).length + announcing.count;
    if (open >= this.#options.maxUploadsPerAccount) throw new WharfError('EOVERLOAD', `at most ${this.#options.maxUploadsPerAccount} uploads at once; finish or cancel one first`);
    announcing.count++;
    this.#announcing.set(account, announcing);
    let promisedHere = 0;
    try {
      const entry = await refusingAs(target.path, () => home.creatableEntry(target.segments));
      if (entry.existing?.isDirectory()) throw new WharfError('ETAKEN', `${target.path}: a folder has that name`);
      if (entry.existing && !replace) throw new WharfError('ETAKEN', `${target.path}: a file of that name exists (ask to replace it)`);
      const free = (await this.#options.quota.usage(account)).freeBytes;
      // What is left, less what the account's other unfinished uploads (those announced and
      // those being announced now) still have to bring; checked and claimed with no await between.
      const promised = this.#openOf(account).reduce((sum, u) => sum + (u.size - u.received), 0) + announcing.bytes;
      const left = Math.max(0, free - promised);
      if (size > left) throw new WharfError('EQUOTA', `over quota: the file has ${size} bytes and ${left} bytes of your quota are left`);
      announcing.bytes += size;
      promisedHere = size;
      const folder = await this.#uploadsFolder(home);
      const id = randomBytes(16).toString('hex');
      const partial = join(folder, `${process.pid}.${id}`);
      await refusingAs(target.path, async () => (await home.createFile(partial)).close());
      const upload: Upload = { id, account, home, target, size, replace, partial, received: 0, touched: Date.now(), busy: false, abandoned: false };
      this.#uploads.set(id, upload);
      return stateOf(upload);
    } finally {
      announcing.count--;
      announcing.bytes -= promisedHere;
      if (announcing.count === 0) this.#announcing.delete(account);
    }
  }

  #openOf(account: string): Upload[] {
    return [...this.#uploads.values()].filter((u) => u.account === account);
  }

  /** An upload of this account, or EMISSING (another account's id is as unknown as a made-up one). */
  state(account: string, id: string): UploadState {
    return stateOf(this.#find(account, id));
  }

  /**
   * Write one chunk at `offset`, which must be where the upload stands. The chunk's bytes are
   * taken from the quota before it is written; what a dropped connection did not bring is given
   * back, and what it did bring is kept (the next chunk starts after it).
   */
  async write(account: string, id: string, offset: number, request: IncomingMessage): Promise<UploadState> {
    const upload = this.#find(account, id);
    if (upload.busy) throw new WharfError('ECHANGED', 'another chunk of this upload is being sent');
    if (offset !== upload.received) throw new WharfError('ERESUME', `the upload has ${upload.received} bytes; send from there (offset ${offset} was asked)`);
    const length = Number(request.headers['content-length'] ?? NaN);
    if (!Number.isSafeInteger(length) || length < 0) throw new WharfError('EBADVALUE', 'a chunk needs a Content-Length');
    if (length > this.#options.maxChunkBytes) throw new WharfError('ETOOLONG', `a chunk has at most ${this.#options.maxChunkBytes} bytes`);
    if (offset + length > upload.size) throw new WharfError('EBADVALUE', `the chunk goes past the announced size of ${upload.size} bytes`);
    upload.busy = true;
    let reserved = 0;
    let written = 0;
    try {
      // No FTP recount of the quota between the reservation and the bytes reaching the disk.
      const unlock = await holdForQuota(this.#options, account, upload.partial, 'another chunk of this upload is being sent');
      try {
        await this.#options.quota.reserve(account, length);
        reserved = length;
        const handle = await refusingAs(upload.target.path, () => upload.home.openForWriting(upload.partial));
        try {
          for await (const piece of request as AsyncIterable<Buffer>) {
            if (written + piece.length > length) throw new WharfError('EPROTOCOL', 'the chunk is longer than its Content-Length');
            await handle.write(piece, 0, piece.length, offset + written);
            written += piece.length;
            upload.received = offset + written;
          }
        } catch (error) {
          // The browser went away mid-chunk: what arrived is kept for the resume.
          if (!(error instanceof Error && (error as NodeJS.ErrnoException).code === 'ECONNRESET') && !(error instanceof Error && error.message === 'aborted')) throw error;
        } finally {
          await handle.close();
        }
      } finally {
        if (reserved > written) await this.#release(account, reserved - written);
        unlock();
      }
      return stateOf(upload);
    } finally {
      upload.busy = false;
      upload.touched = Date.now();
      if (upload.abandoned) await this.#remove(upload);
    }
  }

  /**
   * Publish the upload under its name: never over an existing file unless the upload (or this
   * call) asked to replace it, never while FTP writes that file, never short.
   */
  async finish(account: string, id: string, replaceNow: boolean): Promise<UploadState> {
    const upload = this.#find(account, id);
    if (upload.busy) throw new WharfError('ECHANGED', 'a chunk of this upload is still being sent');
    if (upload.received !== upload.size) throw new WharfError('ERESUME', `the upload has ${upload.received} of ${upload.size} bytes`);
    const { home, target } = upload;
    const entry = await refusingAs(target.path, () => home.creatableEntry(target.segments));
    if (entry.existing?.isDirectory()) throw new WharfError('ETAKEN', `${target.path}: a folder has that name`);
    const replace = upload.replace || replaceNow;
    if (entry.existing && !replace) throw new WharfError('ETAKEN', `${target.path}: a file of that name exists (ask to replace it)`);
    if (upload.busy) throw new WharfError('ECHANGED', 'this upload is being finished');
    upload.busy = true;
    let unlock: () => void;
    try {
      unlock = await holdForQuota(this.#options, account, entry.real, `${target.path}: an FTP upload of this file is in progress; try again later`);
    } catch (error) {
      upload.busy = false;
      throw error;
    }
    try {
      if (entry.existing) {
        await refusingAs(target.path, () => home.move(upload.partial, entry.real));
        await this.#release(account, entry.existing.size);
      } else {
        await refusingAs(target.path, () => home.linkNew(upload.partial, entry.real));
        await home.removeFile(upload.partial).catch(() => {});
      }
      this.#uploads.delete(id);
      return stateOf(upload);
    } finally {
      unlock();
      upload.busy = false;
    }
  }

  /**
   * Cancel: the partial file goes, and its bytes are given back. A chunk still arriving (the
   * browser's cancelled request is not over yet on this side) is let finish, then it all goes.
   */
  async abandon(account: string, id: string): Promise<void> {
    const upload = this.#find(account, id);
    if (upload.busy) {
      upload.abandoned = true;
      this.#uploads.delete(id);
      return;
    }
    await this.#remove(upload);
  }

  /** Remove uploads untouched since `now - expireMs`. */
  async expire(now: number): Promise<number> {
    let removed = 0;
    for (const upload of [...this.#uploads.values()]) {
      if (upload.busy || now - upload.touched < this.#options.expireMs) continue;
      await this.#remove(upload).catch((error: unknown) => this.#options.logger.warn({ err: (error as Error).message }, 'could not remove an expired portal upload'));
      removed++;
    }
    return removed;
  }

  /** Stop the expiry timer (the partial files stay; a later process removes them). */
  close(): void {
    clearInterval(this.#timer);
  }

  #find(account: string, id: string): Upload {
    const upload = this.#uploads.get(id);
    if (upload === undefined || upload.account !== account) throw new WharfError('EMISSING', 'no such upload (it finished, was cancelled or expired)');
    return upload;
  }

  async #remove(upload: Upload): Promise<void> {
    this.#uploads.delete(upload.id);
    const unlock = await holdForQuota(this.#options, upload.account, upload.partial, 'this upload is busy');
    try {
      const stats = await upload.home.statIfPresent(upload.partial);
      await upload.home.removeFile(upload.partial).catch(() => {});
      if (stats?.isFile()) await this.#release(upload.account, stats.size);
    } finally {
      unlock();
    }
  }

  async #release(account: string, bytes: number): Promise<void> {
    if (bytes <= 0) return;
    try {
      await this.#options.quota.release(account, bytes);
    } catch (error) {
      this.#options.logger.warn({ err: (error as Error).message, bytes }, 'could not give quota back');
    }
  }

  /**
   * The home's uploads folder, made if needed. The first time in this process, uploads left by a
   * process that is gone (or by this one, forgotten) are removed and their bytes given back.
   */
  async #uploadsFolder(home: Home): Promise<string> {
    const folder = join(home.root, UPLOADS_FOLDER);
    const present = await home.statIfPresent(folder);
    if (present === undefined) await home.makeFolder(folder).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    else if (!present.isDirectory()) throw new WharfError('EINTERNAL', 'the home holds something unexpected where uploads go');
    let sweep = this.#swept.get(home.root);
    if (sweep === undefined) {
      sweep = this.#sweep(home, folder);
      this.#swept.set(home.root, sweep);
      // A sweep that failed is tried again by the next announcement.
      sweep.catch(() => this.#swept.delete(home.root));
    }
    await sweep;
    return folder;
  }

  async #sweep(home: Home, folder: string): Promise<void> {
    const ours = new Set([...this.#uploads.values()].map((u) => u.partial));
    const alive = writerAliveCheck(ours);
    for (const name of await home.names(folder)) {
      const match = /^(\d{1,7})\.[0-9a-f]{32}$/.exec(name);
      const path = join(folder, name);
      if (match && alive(Number(match[1]), path)) continue;
      const unlock = await holdForQuota(this.#options, this.#accountOf(home), path, 'busy');
      try {
        const stats = await home.statIfPresent(path);
        if (!stats?.isFile()) continue;
        await home.removeFile(path).catch(() => {});
        // Left by an upload that never finished: its bytes were counted and are given back.
        if (match) await this.#release(this.#accountOf(home), stats.size);
      } finally {
        unlock();
      }
    }
  }

  #accountOf(home: Home): string {
    return home.owner;
  }
}
