/**
 * Talking to a section's API (browser code): JSON in and out, the session's CSRF token on every
 * request that changes something, errors as `PortalApiError` with the server's sentence.
 */

/** The header every state-changing request carries; the server compares it with the session's token. */
export const CSRF_HEADER = 'X-CSRF-Token';

/**
 * Marks a PortalApiError of any copy of this module: the shell and each page are bundled apart,
 * each with its own copy of the kit, so a page's `instanceof PortalApiError` meets errors made by
 * the shell's class (its `ctx.api`). The brand, a registered symbol, is the same in every copy.
 */
const API_ERROR_BRAND = Symbol.for('wharf.portal.PortalApiError');

export class PortalApiError extends Error {
  readonly [API_ERROR_BRAND] = true;

  /** `error instanceof PortalApiError` whichever bundle's class made it. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[API_ERROR_BRAND] === true;
  }

  constructor(
    message: string,
    readonly status: number,
    /** The WharfError code the server sent (`EQUOTA`), if any. */
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'PortalApiError';
  }
}

export interface UploadOptions {
  headers?: Record<string, string>;
  onProgress?: (sentBytes: number) => void;
  signal?: AbortSignal;
}

export class PortalApi {
  /** `base` is the section's API root: `/portal/api/files`. */
  constructor(
    readonly base: string,
    readonly csrfToken: string,
  ) {}

  /** The URL of `path` below the base, with query parameters. */
  url(path: string, query: Record<string, string | number | undefined> = {}): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
    const search = params.toString();
    return `${this.base}${path}${search === '' ? '' : `?${search}`}`;
  }

  /** A WebSocket URL below the base (ws: or wss: as the page's own scheme). */
  webSocketUrl(path: string): string {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${this.base}${path}`;
  }

  get<T>(path: string, query?: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<T> {
    return this.#request<T>('GET', this.url(path, query), undefined, signal);
  }

  /** POST, PUT, PATCH or DELETE with a JSON body (or none). */
  send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.#request<T>(method, this.url(path), body, signal);
  }

  async #request<T>(method: string, url: string, body: unknown, signal: AbortSignal | undefined): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (method !== 'GET') headers[CSRF_HEADER] = this.csrfToken;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal });
    return readJson<T>(response);
  }

  /**
   * Send bytes (a file or a slice of one) with upload progress, which `fetch` cannot report.
   * Resolves with the JSON answer.
   */
  upload<T>(method: 'POST' | 'PUT', url: string, body: Blob, options: UploadOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open(method, url);
      request.setRequestHeader(CSRF_HEADER, this.csrfToken);
      request.setRequestHeader('Accept', 'application/json');
      for (const [name, value] of Object.entries(options.headers ?? {})) request.setRequestHeader(name, value);
      request.upload.onprogress = (event) => options.onProgress?.(event.loaded);
      request.onload = () => {
        let parsed: unknown;
        try {
          parsed = request.responseText === '' ? undefined : JSON.parse(request.responseText);
        } catch {
          parsed = undefined;
        }
        if (request.status >= 200 && request.status < 300) resolve(parsed as T);
        else reject(errorFrom(request.status, parsed));
      };
      request.onerror = () => reject(new PortalApiError('the connection to the server failed', 0, undefined));
      request.onabort = () => reject(new DOMException('aborted', 'AbortError'));
      options.signal?.addEventListener('abort', () => request.abort(), { once: true });
      request.send(body);
    });
  }
}

function errorFrom(status: number, body: unknown): PortalApiError {
  const fields = typeof body === 'object' && body !== null ? (body as { error?: unknown; code?: unknown }) : {};
  const message = typeof fields.error === 'string' ? fields.error : `the server answered ${status}`;
  return new PortalApiError(message, status, typeof fields.code === 'string' ? fields.code : undefined);
}

export async function readJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) throw errorFrom(response.status, body);
  return body as T;
}
