/**
 * The diary's section of the browser portal (issue #19, core/portal.ts): the page at `/diary`
 * and its API under `/portal/api/diary/`, on the same store and the same writer as the UDP
 * server, so an entry written in the page is one `wharf diary read` prints, and one a seed client
 * writes appears in the page at once.
 *
 * Who may do what is the UDP server's rule (docs/diary.md, "Diaries and who may do what"): the
 * public diary is read by anyone and written by anyone (visitors too, as seed clients, unless
 * `portalAnonymousWrite` is off), rate-limited per account or address; an account's own diary is
 * read and written by that account. The page offers only "public" and "mine": no request names
 * another account's diary, so none can read it.
 *
 *   GET  /entries?diary=public|mine[&before=ID|&after=ID][&limit=N]
 *        → { entries: PortalEntry[] (newest first), more, canWrite, maxEntryBytes }
 *        `before`: older than ID (the "load older" pages); `after`: newer than ID (catching up);
 *        `more`: there are further entries in that direction.
 *   POST /entries { diary, text } → 201 { entry: { t, text, by? } } once the entry is committed.
 *   GET  /events?diary=public|mine[&after=ID]  → text/event-stream (portal/feed.ts)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WharfError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { portalAssetPath, type PortalRequest, type PortalSection } from '../../../core/portal.js';
import { readJsonBody, sendJson, sendPortalError } from '../../../core/portal-http.js';
import { RateLimiter } from '../../../core/rate-limiter.js';
import { PUBLIC_DIARY, type DiaryStore } from '../diary-store.js';
import { textProblem } from '../protocol.js';
import type { DiaryWriter } from '../writer.js';
import { portalEntry, type DiaryFeed } from './feed.js';

export interface DiaryPortalLimits {
  /** Longest entry, bytes of UTF-8 (the UDP server's `maxEntryBytes`). */
  maxEntryBytes: number;
  /** Visitors (no account) may write the public diary, as seed clients may. */
  anonymousWrite: boolean;
  /** Entries written from the portal per second per account or address, and at once. */
  writesPerSecond: number;
  writeBurst: number;
}

export interface DiaryPortalOptions {
  store: DiaryStore;
  writer: DiaryWriter;
  feed: DiaryFeed;
  logger: Logger;
  limits: DiaryPortalLimits;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;

/** A non-negative whole number from the query, or undefined when absent. */
function idParameter(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new WharfError('EBADVALUE', `${name} must be an entry id (a whole number)`);
  return Number(text);
}

function limitParameter(query: URLSearchParams): number {
  const text = query.get('limit');
  if (text === null || text === '') return DEFAULT_PAGE;
  const limit = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE)) throw new WharfError('EBADVALUE', `limit must be 1 to ${MAX_PAGE}`);
  return limit;
}

/** `public` → the public diary, `mine` → the signed-in account's; anything else is refused. */
function diaryOf(name: unknown, request: PortalRequest): string {
  if (name === 'public') return PUBLIC_DIARY;
  if (name === 'mine') {
    if (request.user === undefined) throw new WharfError('EAUTH', 'sign in to use a diary of your own');
    return request.user.name;
  }
  throw new WharfError('EBADVALUE', 'diary must be "public" or "mine"');
}

/** Who a request counts against: its account, else its address. */
function clientOf(request: PortalRequest): string {
  return request.user !== undefined ? `account:${request.user.name}` : `address:${request.peer}`;
}

export function diaryPortalSection(options: DiaryPortalOptions): PortalSection {
  const { store, writer, feed, logger, limits } = options;
  const writes = new RateLimiter({ ratePerSecond: limits.writesPerSecond, burst: limits.writeBurst, maxKeys: 10_000 });
  // A JSON string may spell a character as \uXXXX: six bytes for each byte of UTF-8 at most.
  const maxBodyBytes = limits.maxEntryBytes * 6 + 1024;
  const canWrite = (diary: string, request: PortalRequest) => diary !== PUBLIC_DIARY || request.user !== undefined || limits.anonymousWrite;

  async function list(res: ServerResponse, request: PortalRequest): Promise<void> {
    const diary = diaryOf(request.query.get('diary'), request);
    const limit = limitParameter(request.query);
    const before = idParameter(request.query, 'before');
    const after = idParameter(request.query, 'after');
    if (before !== undefined && after !== undefined) throw new WharfError('EBADVALUE', 'ask for entries before an id or after one, not both');
    // `after`: the oldest `limit` newer than it (the page asks again from the newest of them).
    const rows = after !== undefined ? await store.page(diary, { afterId: after, limit: limit + 1 }) : await store.newest(diary, limit + 1, before);
    const more = rows.length > limit;
    const shown = after !== undefined ? rows.slice(0, limit).reverse() : rows.slice(0, limit);
    sendJson(res, 200, { entries: shown.map(portalEntry), more, canWrite: canWrite(diary, request), maxEntryBytes: limits.maxEntryBytes });
  }

  async function write(req: IncomingMessage, res: ServerResponse, request: PortalRequest): Promise<void> {
    const body = await readJsonBody(req, maxBodyBytes, { strictUtf8: true });
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new WharfError('EBADVALUE', 'the body must be {"diary": "public" or "mine", "text": "..."}');
    const { diary: name, text } = body as { diary?: unknown; text?: unknown };
    const diary = diaryOf(name, request);
    if (typeof text !== 'string') throw new WharfError('EBADVALUE', 'text must be a string');
    if (!canWrite(diary, request)) throw new WharfError('EAUTH', 'sign in to write in the public diary');
    const problem = textProblem(text, limits.maxEntryBytes);
    if (problem) throw new WharfError(problem.code, problem.message);
    if (!writes.take(clientOf(request))) throw new WharfError('ETHROTTLED', 'too many entries in a short time; wait a few seconds');
    const ms = await writer.seed({ diary, text, account: request.user?.name ?? null, address: request.peer });
    sendJson(res, 201, { entry: { t: ms, text, ...(request.user ? { by: request.user.name } : {}) } });
  }

  function events(req: IncomingMessage, res: ServerResponse, request: PortalRequest): void {
    const diary = diaryOf(request.query.get('diary'), request);
    // EventSource sends the id of the last event it saw when it reconnects: that wins over the
    // `after` of the URL, which is what the page had when it first connected.
    const lastEventId = String(req.headers['last-event-id'] ?? '');
    const after = /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : idParameter(request.query, 'after');
    feed.open(req, res, { diary, client: clientOf(request), after });
  }

  return {
    id: 'diary',
    title: { en: 'Diary', zh: '日记' },
    order: 40,
    needsAccount: false,
    script: portalAssetPath('pages/diary.js'),
    async handle(req, res, request) {
      try {
        const method = req.method ?? 'GET';
        const reading = method === 'GET' || method === 'HEAD';
        if (request.path === '/entries' && reading) await list(res, request);
        else if (request.path === '/entries' && method === 'POST') await write(req, res, request);
        else if (request.path === '/events' && method === 'GET') events(req, res, request);
        else if (request.path === '/entries' || request.path === '/events') {
          sendJson(res, 405, { error: `${method} is not allowed here`, code: 'EUSAGE' }, { Allow: request.path === '/entries' ? 'GET, HEAD, POST' : 'GET' });
        } else throw new WharfError('EMISSING', 'no such diary request');
      } catch (error) {
        sendPortalError(res, error, logger);
      }
    },
  };
}
