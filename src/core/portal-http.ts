/**
 * What every portal section's API does with HTTP (core/portal.ts): read a JSON body under a
 * limit, answer JSON, and turn a refusal into its status and sentence. A peer's mistake gets
 * the sentence; a bug on our side gets a generic one (logged with the stack), never the stack.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WharfError, type WharfErrorCode } from './errors.js';
import type { Logger } from './logger.js';

/** The largest JSON body a section reads unless it says otherwise. */
export const DEFAULT_JSON_BODY_BYTES = 64 * 1024;

/** The HTTP status of each refusal a section may answer with; any other code is a 500. */
const STATUS_OF: Partial<Record<WharfErrorCode, number>> = {
  EUSAGE: 400,
  EBADVALUE: 400,
  EPROTOCOL: 400,
  EENCODING: 400,
  EEMPTY: 400,
  ETOOLONG: 413,
  EAUTH: 401,
  ELOGIN: 401,
  EFORBIDDEN: 403,
  EDENIED: 403,
  EMISSING: 404,
  ENOUSER: 404,
  ENODB: 404,
  ENOSTRAT: 400,
  ETAKEN: 409,
  ENAME: 409,
  ECHANGED: 409,
  ERESUME: 409,
  EOUTOFRANGE: 416,
  ETHROTTLED: 429,
  EQUOTA: 507,
  EOVERLOAD: 503,
  ESTORE: 503,
  EREDIS: 503,
  ENOTJOINED: 409,
};

export function statusForCode(code: WharfErrorCode): number {
  return STATUS_OF[code] ?? 500;
}

/** Answer `body` as JSON; never cached (the answers are per account). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(bytes.length), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(bytes);
}

/**
 * Answer an error: a WharfError with a known status as `{ error, code }`; anything else is a
 * bug on our side: logged, answered 500 with a sentence that gives nothing away.
 */
export function sendPortalError(res: ServerResponse, error: unknown, logger: Logger, headers: Record<string, string> = {}): void {
  if (error instanceof WharfError && STATUS_OF[error.code] !== undefined) {
    sendJson(res, statusForCode(error.code), { error: error.message, code: error.code }, headers);
    return;
  }
  logger.error({ err: error }, 'portal request failed');
  sendJson(res, 500, { error: 'the server failed to answer this request; the server log says why', code: 'EINTERNAL' }, headers);
}

/** What `readJsonBody` also checks. */
export interface JsonBodyOptions {
  /**
   * Refuse a body whose bytes are not UTF-8 (EENCODING) instead of reading them with U+FFFD in
   * place of the bad bytes: for text that is stored as the person sent it (a diary entry).
   */
  strictUtf8?: boolean;
}

const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Read a JSON body of at most `maxBytes` (413 past it, said before reading it all when the
 * length is announced). Refuses a body that is not `application/json`, which is also what keeps
 * an HTML form on another site from posting here without a CORS preflight.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes = DEFAULT_JSON_BODY_BYTES, options: JsonBodyOptions = {}): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new WharfError('EBADVALUE', 'the request body must be JSON (Content-Type: application/json)');
  const announced = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(announced) && announced > maxBytes) {
    req.resume();
    throw new WharfError('ETOOLONG', `the request body is larger than ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      throw new WharfError('ETOOLONG', `the request body is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  let text: string;
  if (options.strictUtf8 === true) {
    try {
      text = strictUtf8Decoder.decode(bytes);
    } catch {
      throw new WharfError('EENCODING', 'the request body is not valid UTF-8');
    }
  } else {
    text = bytes.toString('utf8');
  }
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new WharfError('EBADVALUE', 'the request body is not valid JSON');
  }
}
