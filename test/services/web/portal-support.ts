/**
 * A browser's side of the portal's HTTP, for tests that check it byte by byte: a cookie jar,
 * the Origin a page of the portal sends, the CSRF token it learned, raw upgrade requests.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export interface PortalResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON as the server sent it
  json: any;
  /** The Set-Cookie lines of this answer. */
  setCookies: string[];
}

export interface CallOptions {
  body?: unknown;
  /** Headers to send; `null` leaves out one the client sends by default (Origin, X-CSRF-Token). */
  headers?: Record<string, string | null>;
}

/** One browser: its cookies, its CSRF token, the portal's origin in `Origin` unless told otherwise. */
export class PortalClient {
  readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(readonly url: string) {}

  get origin(): string {
    return new URL(this.url).origin;
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<PortalResponse> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (method !== 'GET' && method !== 'HEAD') {
      headers.Origin = this.origin;
      headers['X-CSRF-Token'] = this.csrf;
    }
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.cookies.size > 0) headers.Cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      const existing = Object.keys(headers).find((key) => key.toLowerCase() === name.toLowerCase());
      if (existing !== undefined) delete headers[existing];
      if (value !== null) headers[name] = value;
    }
    const response = await rawRequest(this.url, method, path, headers, body);
    for (const line of response.setCookies) {
      const [pair = ''] = line.split(';');
      const equals = pair.indexOf('=');
      const name = pair.slice(0, equals);
      const value = pair.slice(equals + 1);
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    if (typeof response.json?.csrf === 'string') this.csrf = response.json.csrf;
    return response;
  }

  /** GET the session (learns the CSRF token, and a visitor's cookie). */
  session(): Promise<PortalResponse> {
    return this.call('GET', '/portal/api/session');
  }

  async signIn(name: string, password: string): Promise<PortalResponse> {
    if (this.csrf === '') await this.session();
    return this.call('POST', '/portal/api/session', { body: { name, password } });
  }
}

export function rawRequest(url: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<PortalResponse> {
  const { hostname, port, protocol } = new URL(url);
  // Under TLS: the test certificate is self-signed.
  const client = protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request({ host: hostname, port: Number(port), method, path, headers, agent: false, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        const setCookie = res.headers['set-cookie'];
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, setCookies: setCookie ?? [] });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Send an HTTP/1.1 upgrade request; resolves with the first answer's head (or '' when the server just closed). */
export function upgradeRequest(url: string, path: string, headers: Record<string, string>): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 3_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  });
}
