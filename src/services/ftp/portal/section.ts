/**
 * The portal's files section (issue #19, item 4): the signed-in account's FTP home in the
 * browser, served under `/portal/api/files/`. Every path goes through the same `Home` (and so the
 * same `FileRoot` confinement) and the same `Quota` as an FTP session; nothing here touches the
 * disk by itself. The API (JSON unless bytes):
 *
 *   GET    /list?path=/docs            { path, entries: [{ name, type, size, mtime }], truncated? }
 *   GET    /file?path=/docs/a.pdf      the bytes (Range, ETag, attachment, never rendered)
 *   POST   /folder  { path }           a new folder
 *   POST   /rename  { from, to }       never over an existing name
 *   DELETE /entry?path=                a file, or an empty folder
 *   GET    /quota                      { used, limit }
 *   POST   /upload  { path, size, replace? }   → { id, path, size, received } (uploads.ts)
 *   GET    /upload/<id>                { id, path, size, received }
 *   PUT    /upload/<id>?offset=N       one chunk (≤ maxChunkBytes)
 *   POST   /upload/<id>/finish { replace? }
 *   DELETE /upload/<id>
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { WharfError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { portalAssetPath, type PortalRequest, type PortalSection } from '../../../core/portal.js';
import { readJsonBody, sendJson, sendPortalError } from '../../../core/portal-http.js';
import type { Store } from '../../../store/index.js';
import { Home } from '../files.js';
import { attachmentDisposition, browserEntryPath, browserPath, parseRange } from './paths.js';
import { holdForQuota } from './quota-hold.js';
import { refusingAs } from './refusals.js';
import { PortalUploads } from './uploads.js';

export interface FilesSectionOptions {
  store: Store;
  logger: Logger;
  /** `<root>/users`: each account's home is the folder of its name (as FTP's). */
  usersRoot: string;
  /** FTP's upload locks, shared: neither side publishes a file the other is writing. */
  uploadLocks: Set<string>;
  /** FTP's quota recounts under way, by account: a portal change of the quota waits for one (quota-hold.ts). */
  recoveries?: Map<string, Promise<void>>;
  maxChunkBytes?: number;
  expireMs?: number;
}

export interface FilesSection {
  section: PortalSection;
  uploads: PortalUploads;
  close(): void;
}

/** The largest chunk of an upload one PUT carries. */
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
/** Bytes read from a file at a time for a download (the 64 KiB default costs a thread-pool trip each). */
const READ_BUFFER_BYTES = 1024 * 1024;
/** A listing shows at most this many entries (a folder of a million files is not read whole). */
const MAX_LISTED = 10_000;
const DAY_MS = 24 * 60 * 60 * 1000;
const UPLOAD_PATH = /^\/upload\/([0-9a-f]{32})(\/finish)?$/;

/** What the handlers share. */
interface SectionDeps {
  store: Store;
  logger: Logger;
  uploads: PortalUploads;
  uploadLocks: Set<string>;
  recoveries?: Map<string, Promise<void>>;
}

interface Call {
  deps: SectionDeps;
  req: IncomingMessage;
  res: ServerResponse;
  request: PortalRequest;
  account: string;
  home: Home;
}

export function filesSection(options: FilesSectionOptions): FilesSection {
  const { store, logger } = options;
  const uploads = new PortalUploads({
    quota: store.quota,
    logger,
    uploadLocks: options.uploadLocks,
    ...(options.recoveries !== undefined ? { recoveries: options.recoveries } : {}),
    maxChunkBytes: options.maxChunkBytes ?? MAX_CHUNK_BYTES,
    expireMs: options.expireMs ?? DAY_MS,
    maxUploadsPerAccount: 32,
  });
  const deps: SectionDeps = { store, logger, uploads, uploadLocks: options.uploadLocks, ...(options.recoveries !== undefined ? { recoveries: options.recoveries } : {}) };

  const section: PortalSection = {
    id: 'files',
    title: { en: 'Files', zh: '文件' },
    order: 30,
    needsAccount: true,
    script: portalAssetPath('pages/ftp.js'),
    async handle(req, res, request) {
      try {
        const user = request.user;
        if (user === undefined) throw new WharfError('EAUTH', 'sign in to see your files');
        const home = await Home.open(join(options.usersRoot, user.name), { writable: true, owner: user.name });
        await route({ deps, req, res, request, account: user.name, home });
      } catch (error) {
        // A body the route never read (a refused chunk) is drained, not left on the socket.
        if (!req.readableEnded) req.resume();
        sendPortalError(res, error, logger);
      }
    },
  };
  return { section, uploads, close: () => uploads.close() };
}

async function route(call: Call): Promise<void> {
  const { req, request, account, deps } = call;
  const method = req.method ?? 'GET';
  const key = `${method} ${request.path}`;
  switch (key) {
    case 'GET /list':
      return list(call);
    case 'GET /file':
    case 'HEAD /file':
      return download(call);
    case 'POST /folder':
      return makeFolder(call);
    case 'POST /rename':
      return rename(call);
    case 'DELETE /entry':
      return remove(call);
    case 'GET /quota': {
      const usage = await deps.store.quota.usage(account);
      return sendJson(call.res, 200, { used: usage.bytesUsed, limit: usage.quotaBytes });
    }
    case 'POST /upload': {
      const body = objectBody(await readJsonBody(req));
      const target = browserEntryPath(body.path);
      const size = body.size;
      if (typeof size !== 'number') throw new WharfError('EBADVALUE', 'size: a whole number of bytes');
      return sendJson(call.res, 201, await deps.uploads.begin(account, call.home, target, size, body.replace === true));
    }
  }
  const upload = UPLOAD_PATH.exec(request.path);
  if (upload === null) throw new WharfError('EMISSING', 'no such files API');
  const id = upload[1] as string;
  if (upload[2] !== undefined) {
    if (method !== 'POST') throw new WharfError('EUSAGE', 'finish an upload with POST');
    const body = req.headers['content-type'] === undefined ? {} : objectBody((await readJsonBody(req)) ?? {});
    return sendJson(call.res, 200, await deps.uploads.finish(account, id, body.replace === true));
  }
  if (method === 'GET') return sendJson(call.res, 200, deps.uploads.state(account, id));
  if (method === 'PUT') return sendJson(call.res, 200, await deps.uploads.write(account, id, offsetOf(request.query), req));
  if (method === 'DELETE') {
    await deps.uploads.abandon(account, id);
    return sendJson(call.res, 200, { id });
  }
  throw new WharfError('EUSAGE', `${method} is not used on an upload`);
}

async function list({ res, request, home }: Call): Promise<void> {
  const folder = browserPath(request.query.get('path') ?? '/');
  const entry = await refusingAs(folder.path, () => home.existingEntry(folder.segments));
  if (!entry.stats.isDirectory()) throw new WharfError('EBADVALUE', `${folder.path}: not a folder`);
  const listed = await refusingAs(folder.path, () => home.list(entry.real, MAX_LISTED));
  const entries = listed.map((e) => ({
    name: e.name,
    type: e.type === 'dir' ? 'folder' : 'file',
    size: e.type === 'dir' ? 0 : e.size,
    mtime: e.mtime.toISOString(),
  }));
  entries.sort((a, b) => (a.type === b.type ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.type === 'folder' ? -1 : 1));
  sendJson(res, 200, { path: folder.path, entries, ...(listed.length >= MAX_LISTED ? { truncated: true } : {}) });
}

async function download({ req, res, request, home }: Call): Promise<void> {
  const target = browserEntryPath(request.query.get('path'));
  const entry = await refusingAs(target.path, () => home.existingEntry(target.segments));
  if (!entry.stats.isFile()) throw new WharfError('EBADVALUE', `${target.path}: not a plain file`);
  const handle = await refusingAs(target.path, () => home.openForReading(entry.real));
  let streaming = false;
  try {
    const stats = await handle.stat();
    const etag = `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': attachmentDisposition(target.segments[target.segments.length - 1] as string),
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'private, no-cache',
      'Accept-Ranges': 'bytes',
      ETag: etag,
      'Last-Modified': stats.mtime.toUTCString(),
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    const ifRange = req.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== etag ? 'ignore' : parseRange(req.headers.range, stats.size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${stats.size}`, 'Content-Length': '0' }).end();
      return;
    }
    const start = range === 'ignore' ? 0 : range.start;
    const end = range === 'ignore' ? stats.size - 1 : range.end;
    if (range !== 'ignore') headers['Content-Range'] = `bytes ${start}-${end}/${stats.size}`;
    headers['Content-Length'] = String(Math.max(0, end - start + 1));
    res.writeHead(range === 'ignore' ? 200 : 206, headers);
    if (req.method === 'HEAD' || end < start) {
      res.end();
      return;
    }
    streaming = true;
    await pipeline(handle.createReadStream({ start, end, autoClose: true, highWaterMark: READ_BUFFER_BYTES }), res).catch(() => {
      // The browser stopped the download: nothing to answer.
    });
  } finally {
    if (!streaming) await handle.close().catch(() => {});
  }
}

async function makeFolder({ req, res, home }: Call): Promise<void> {
  const target = browserEntryPath(objectBody(await readJsonBody(req)).path);
  const entry = await refusingAs(target.path, () => home.creatableEntry(target.segments));
  if (entry.existing) throw new WharfError('ETAKEN', `${target.path}: that name is taken`);
  await refusingAs(target.path, () => home.makeFolder(entry.real));
  sendJson(res, 201, { path: target.path });
}

async function rename({ req, res, home, deps }: Call): Promise<void> {
  const body = objectBody(await readJsonBody(req));
  const from = browserEntryPath(body.from, 'from');
  const to = browserEntryPath(body.to, 'to');
  const source = await refusingAs(from.path, () => home.creatableEntry(from.segments));
  if (!source.existing) throw new WharfError('EMISSING', `${from.path}: no such file or folder`);
  const target = await refusingAs(to.path, () => home.creatableEntry(to.segments));
  if (target.existing) throw new WharfError('ETAKEN', `${to.path}: that name is taken`);
  if (deps.uploadLocks.has(source.real) || deps.uploadLocks.has(target.real)) throw new WharfError('ETAKEN', 'an FTP upload of that file is in progress; try again later');
  if (source.existing.isDirectory()) {
    if (to.path.startsWith(`${from.path}/`)) throw new WharfError('EBADVALUE', 'a folder cannot go inside itself');
    await refusingAs(to.path, () => home.move(source.real, target.real));
  } else {
    // A second name first (refused if taken meanwhile), then the first one goes: never a clobber.
    await refusingAs(to.path, () => home.linkNew(source.real, target.real));
    await refusingAs(from.path, () => home.removeFile(source.real));
  }
  sendJson(res, 200, { from: from.path, to: to.path });
}

async function remove({ res, request, account, home, deps }: Call): Promise<void> {
  const target = browserEntryPath(request.query.get('path'));
  const entry = await refusingAs(target.path, () => home.creatableEntry(target.segments));
  if (!entry.existing) throw new WharfError('EMISSING', `${target.path}: no such file or folder`);
  if (entry.existing.isDirectory()) {
    if (deps.uploadLocks.has(entry.real)) throw new WharfError('ETAKEN', `${target.path}: an FTP upload of this file is in progress`);
    await refusingAs(target.path, () => home.removeFolder(entry.real));
    return sendJson(res, 200, { path: target.path });
  }
  // No FTP recount of the quota between the file going and its bytes given back.
  const unlock = await holdForQuota(deps, account, entry.real, `${target.path}: an FTP upload of this file is in progress`);
  try {
    await refusingAs(target.path, () => home.removeFile(entry.real));
    let freed = entry.existing.size;
    // As FTP's DELE: deleting a file also drops an interrupted FTP upload of it.
    const partial = home.partialOf(entry);
    const partialStats = await home.statIfPresent(partial);
    if (partialStats?.isFile()) {
      await home.removeFile(partial).catch(() => {});
      freed += partialStats.size;
    }
    await deps.store.quota.release(account, freed).catch((error: unknown) => deps.logger.warn({ err: (error as Error).message }, 'could not give quota back'));
  } finally {
    unlock();
  }
  sendJson(res, 200, { path: target.path });
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new WharfError('EBADVALUE', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function offsetOf(query: URLSearchParams): number {
  const text = query.get('offset') ?? '';
  if (!/^\d{1,16}$/.test(text)) throw new WharfError('EBADVALUE', 'offset: a whole number of bytes');
  return Number(text);
}
