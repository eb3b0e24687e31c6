/**
 * An FTP client for programs and for `wharf ftp`: passive mode (EPSV, then PASV), binary
 * transfers with progress and resume (REST / APPE), MLSD listings with a LIST fallback, and
 * explicit FTPS (AUTH TLS, PROT P, TLS session reuse on data connections as vsftpd requires).
 * It speaks to any RFC 959 server: wharf, vsftpd, pyftpdlib.
 *
 * Written on node:net and node:tls rather than on a library so that the reply parser and address
 * formats are the same tested code as the server's (protocol/), and so that progress, resume
 * and the seed's `SITE REGISTER` need no adapters.
 */
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import tls from 'node:tls';
import { Transform } from 'node:stream';
import { closeStream } from '../../core/client.js';
import { WharfError, codeForErrno } from '../../core/errors.js';
import { untilDeadline } from '../../core/deadline.js';
import { parseEpsvReply, parsePasvReply } from './protocol/addresses.js';
import { parseHashFeature, parseHashReply, type ByteRange, type HashReply } from './protocol/hash.js';
import { parseFactsLine, parseTime } from './protocol/listing.js';
import { ReplyParser, replyText, unquotePath, type Reply } from './protocol/replies.js';

export interface FtpClientOptions {
  host?: string;
  /** Default 21 (`wharf ftp` passes 2121, its server's port). */
  port?: number;
  /** 'explicit': AUTH TLS after the greeting, and every data connection encrypted (PROT P). */
  secure?: false | 'explicit';
  /** Passed to tls.connect (e.g. `rejectUnauthorized: false` for a self-signed certificate, or `ca`). */
  tlsOptions?: tls.ConnectionOptions;
  /** How long to wait for a connection or a reply. Default 30 s. */
  timeoutMs?: number;
  /** Every line sent and received, for `--verbose` (PASS is masked). */
  debug?: (line: string) => void;
}

export class FtpError extends WharfError {
  readonly reply: Reply;
  constructor(command: string, reply: Reply) {
    super('EFTP', `${command}: ${reply.code} ${replyText(reply)}`);
    this.name = 'FtpError';
    this.reply = reply;
  }
}

export interface FtpEntry {
  name: string;
  type: 'file' | 'dir' | 'link' | 'other';
  size?: number;
  modified?: Date;
  /** The raw line (LIST) or facts (MLSD). */
  raw: string;
}

export interface TransferOptions {
  /** Called as bytes move (the total so far). */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
  /** At most this many bytes per second (curl's --limit-rate). */
  limitRate?: number;
}

export interface FtpQuota {
  used: number;
  quota: number;
  free: number;
}

interface Waiter {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

export class FtpClient {
  readonly #options: FtpClientOptions;
  readonly #host: string;
  #socket: net.Socket | tls.TLSSocket;
  #raw: net.Socket;
  #decoder = new StringDecoder('utf8');
  #parser = new ReplyParser();
  #replies: Reply[] = [];
  #waiters: Waiter[] = [];
  #failure: Error | undefined;
  #features: Map<string, string> | undefined;
  #type: 'I' | 'A' | undefined;
  #epsvWorks = true;
  #secureData = false;
  /** The HASH algorithm the server has selected for this session, once known. */
  #hashAlgorithm: string | undefined;
  greeting: Reply | undefined;

  private constructor(socket: net.Socket, options: FtpClientOptions) {
    this.#options = options;
    this.#host = options.host ?? '127.0.0.1';
    this.#raw = socket;
    this.#socket = socket;
    this.#listen(socket);
    socket.on('close', () => this.#fail(new WharfError('ECLOSED', 'the server closed the connection')));
  }

  static async connect(options: FtpClientOptions = {}): Promise<FtpClient> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 21;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new WharfError('EDEADLINE', `no connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new WharfError(codeForErrno(error.code, 'ECONNECT'), `cannot connect to ${host}:${port}: ${error.code === 'ECONNREFUSED' ? 'connection refused (is the server running?)' : error.message}`));
      });
    });
    const client = new FtpClient(socket, options);
    try {
      const greeting = await client.#nextReply();
      client.greeting = greeting;
      if (greeting.code !== 220) throw new FtpError('connect', greeting);
      if (options.secure === 'explicit') await client.#startTls();
      return client;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  #listen(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      try {
        const replies = this.#parser.push(this.#decoder.write(chunk));
        for (const reply of replies) {
          this.#options.debug?.(`< ${reply.code} ${reply.lines.join('\n    ')}`);
          const waiter = this.#waiters.shift();
          if (waiter) waiter.resolve(reply);
          else this.#replies.push(reply);
        }
      } catch (error) {
        this.#fail(new WharfError('EPROTOCOL', `the server sent something that is not FTP: ${(error as Error).message}`));
        this.#raw.destroy();
      }
    });
    socket.on('error', (error) => this.#fail(error));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
  }

  #nextReply(timeoutMs = this.#options.timeoutMs ?? 30_000): Promise<Reply> {
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              const index = this.#waiters.indexOf(waiter);
              if (index >= 0) this.#waiters.splice(index, 1);
              reject(new WharfError('EDEADLINE', `no reply from the server within ${Math.round(timeoutMs / 1000)} s`));
            }, timeoutMs)
          : undefined;
      const waiter: Waiter = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  #sendLine(command: string): void {
    if (this.#failure) throw this.#failure;
    if (/[\r\n]/.test(command)) throw new WharfError('EBADVALUE', 'an FTP command cannot contain a line break');
    this.#options.debug?.(`> ${/^PASS /i.test(command) ? 'PASS ****' : /^SITE REGISTER /i.test(command) ? 'SITE REGISTER ****' : command}`);
    this.#socket.write(`${command}\r\n`);
  }

  /** Send one command and return its reply (the first one, which may be preliminary: 1xx). */
  async send(command: string, timeoutMs?: number): Promise<Reply> {
    this.#sendLine(command);
    return this.#nextReply(timeoutMs);
  }

  /** Send a command; any reply but a 2xx or 3xx is thrown as FtpError. */
  async command(command: string): Promise<Reply> {
    const reply = await this.send(command);
    if (reply.code >= 400 || reply.code < 200) throw new FtpError(command.replace(/^(PASS|SITE REGISTER) .*/i, '$1 ****'), reply);
    return reply;
  }

  async #startTls(): Promise<void> {
    const reply = await this.send('AUTH TLS');
    if (reply.code !== 234) throw new FtpError('AUTH TLS', reply);
    const raw = this.#raw;
    raw.removeAllListeners('data');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, servername: net.isIP(this.#host) ? undefined : this.#host, ...this.#options.tlsOptions });
      s.once('secureConnect', () => resolve(s));
      s.once('error', (error) => reject(new WharfError('ETLS', `TLS with the server failed: ${error.message}`)));
    });
    this.#decoder = new StringDecoder('utf8');
    this.#socket = secure;
    this.#listen(secure);
    await this.command('PBSZ 0');
    await this.command('PROT P');
    this.#secureData = true;
  }

  get secure(): boolean {
    return this.#socket instanceof tls.TLSSocket;
  }

  async login(user: string, password: string): Promise<void> {
    const reply = await this.send(`USER ${user}`);
    if (reply.code === 230) return;
    if (reply.code !== 331 && reply.code !== 332) throw new FtpError(`USER ${user}`, reply);
    const pass = await this.send(`PASS ${password}`);
    if (pass.code !== 230 && pass.code !== 202) throw new FtpError('PASS ****', pass);
    // UTF-8 file names (RFC 2640); servers that do not know OPTS just say so.
    if ((await this.features()).has('UTF8')) await this.send('OPTS UTF8 ON');
  }

  /** FEAT, parsed: feature name (upper case) → its parameters. Cached. */
  async features(): Promise<Map<string, string>> {
    if (this.#features) return this.#features;
    const reply = await this.send('FEAT');
    const features = new Map<string, string>();
    if (reply.code === 211) {
      for (const line of reply.lines.slice(1, -1)) {
        const text = line.trim();
        if (text === '') continue;
        const space = text.indexOf(' ');
        features.set((space === -1 ? text : text.slice(0, space)).toUpperCase(), space === -1 ? '' : text.slice(space + 1));
      }
    }
    this.#features = features;
    return features;
  }

  async register(name: string, password: string): Promise<string> {
    return replyText(await this.command(`SITE REGISTER ${name} ${password}`));
  }

  /** The account's quota (wharf's `SITE QUOTA`), or undefined when the server has none. */
  async quota(): Promise<FtpQuota | undefined> {
    const reply = await this.send('SITE QUOTA');
    const match = /used=(\d+) quota=(\d+) free=(\d+)/.exec(replyText(reply));
    if (reply.code !== 200 || !match) return undefined;
    return { used: Number(match[1]), quota: Number(match[2]), free: Number(match[3]) };
  }

  /**
   * ALLO `bytes` before an upload: undefined when there is room (or the server does not check),
   * else the server's reason (its 552 text: on wharf `5.0 MiB does not fit: 0 B free of 1.0 MiB.`).
   */
  async allocate(bytes: number): Promise<string | undefined> {
    const reply = await this.send(`ALLO ${bytes}`);
    return reply.code === 552 || reply.code === 452 ? replyText(reply) : undefined;
  }

  /**
   * The server's SHA-256 of `path` (of `range` only, with RANG): HASH, draft-bryan-ftpext-hash.
   * Undefined when the server cannot say (no HASH, no SHA-256, or no RANG for a range).
   */
  async sha256(path: string, range?: ByteRange): Promise<HashReply | undefined> {
    const feature = (await this.features()).get('HASH');
    if (feature === undefined) return undefined;
    const { algorithms, selected } = parseHashFeature(feature);
    if (!algorithms.includes('SHA-256')) return undefined;
    this.#hashAlgorithm ??= selected;
    if (this.#hashAlgorithm !== 'SHA-256') {
      await this.command('OPTS HASH SHA-256');
      this.#hashAlgorithm = 'SHA-256';
    }
    if (range) {
      const rang = await this.send(`RANG ${range.start} ${range.end}`);
      if (rang.code !== 350) return undefined;
    }
    const reply = await this.send(`HASH ${path}`);
    if (reply.code !== 213) throw new FtpError(`HASH ${path}`, reply);
    const parsed = parseHashReply(replyText(reply));
    if (!parsed || parsed.algorithm !== 'SHA-256') throw new WharfError('EPROTOCOL', `the server's HASH reply is not a SHA-256 one: ${replyText(reply)}`);
    return parsed;
  }

  async pwd(): Promise<string> {
    const reply = await this.command('PWD');
    return unquotePath(replyText(reply)) ?? '/';
  }

  async cd(path: string): Promise<void> {
    await this.command(`CWD ${path}`);
  }

  async mkdir(path: string): Promise<void> {
    await this.command(`MKD ${path}`);
  }

  /** MKD every missing folder of `path` (like mkdir -p). */
  async mkdirs(path: string): Promise<void> {
    const absolute = path.startsWith('/');
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const sub = `${absolute ? '/' : ''}${parts.slice(0, i).join('/')}`;
      const reply = await this.send(`MKD ${sub}`);
      if (reply.code !== 257 && reply.code !== 550 && reply.code !== 521) throw new FtpError(`MKD ${sub}`, reply);
    }
  }

  async rmdir(path: string): Promise<void> {
    await this.command(`RMD ${path}`);
  }

  async delete(path: string): Promise<void> {
    await this.command(`DELE ${path}`);
  }

  async rename(from: string, to: string): Promise<void> {
    const reply = await this.send(`RNFR ${from}`);
    if (reply.code !== 350) throw new FtpError(`RNFR ${from}`, reply);
    await this.command(`RNTO ${to}`);
  }

  async #binary(): Promise<void> {
    if (this.#type === 'I') return;
    await this.command('TYPE I');
    this.#type = 'I';
  }

  /** SIZE in binary mode, or undefined when the file does not exist (or the server has no SIZE). */
  async size(path: string): Promise<number | undefined> {
    await this.#binary();
    const reply = await this.send(`SIZE ${path}`);
    if (reply.code !== 213) return undefined;
    const size = Number(replyText(reply).trim());
    return Number.isSafeInteger(size) ? size : undefined;
  }

  async modified(path: string): Promise<Date | undefined> {
    const reply = await this.send(`MDTM ${path}`);
    return reply.code === 213 ? parseTime(replyText(reply).trim()) : undefined;
  }

  /** A folder's entries: MLSD where the server has it, else LIST parsed as `ls -l`. */
  async list(path = ''): Promise<FtpEntry[]> {
    const features = await this.features();
    if (features.has('MLST')) {
      const text = await this.#readText(path ? `MLSD ${path}` : 'MLSD');
      return text
        .split(/\r?\n/)
        .filter((line) => line.trim() !== '')
        .map((line) => parseFactsLine(line))
        .filter((entry): entry is NonNullable<typeof entry> => entry !== undefined)
        .filter((entry) => entry.facts.type !== 'cdir' && entry.facts.type !== 'pdir')
        .map((entry) => ({
          name: entry.name,
          type: entry.facts.type === 'dir' ? 'dir' : entry.facts.type === 'file' ? 'file' : entry.facts.type?.startsWith('os.unix=sym') ? 'link' : 'other',
          size: entry.facts.size !== undefined ? Number(entry.facts.size) : undefined,
          modified: entry.facts.modify ? parseTime(entry.facts.modify) : undefined,
          raw: `${Object.entries(entry.facts).map(([k, v]) => `${k}=${v};`).join('')} ${entry.name}`,
        }));
    }
    const text = await this.#readText(path ? `LIST ${path}` : 'LIST');
    return text
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '' && !/^total \d+/.test(line))
      .map(parseListLine)
      .filter((entry) => entry.name !== '.' && entry.name !== '..');
  }

  /** The server's LIST text as is (`ls -l` lines). */
  async listText(path = ''): Promise<string> {
    return this.#readText(path ? `LIST ${path}` : 'LIST');
  }

  async names(path = ''): Promise<string[]> {
    const text = await this.#readText(path ? `NLST ${path}` : 'NLST');
    return text.split(/\r?\n/).filter((line) => line !== '');
  }

  async #readText(command: string): Promise<string> {
    const chunks: Buffer[] = [];
    const sink = new Transform({
      transform(chunk: Buffer, _e, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    await this.#transfer(command, async (data) => {
      await pipeline(data, sink);
    });
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * RETR `remote` into `destination`, from `offset` (REST) when given. Resolves with the bytes
   * received.
   */
  async download(remote: string, destination: Writable, options: TransferOptions & { offset?: number } = {}): Promise<number> {
    await this.#binary();
    if (options.offset && options.offset > 0) {
      const reply = await this.send(`REST ${options.offset}`);
      if (reply.code !== 350) throw new FtpError(`REST ${options.offset}`, reply);
    }
    let bytes = 0;
    await this.#transfer(
      `RETR ${remote}`,
      async (data) => {
        const counter = countingTransform((n) => {
          bytes += n;
          options.onProgress?.(bytes);
        }, options.limitRate);
        await pipeline(data, counter, destination, { end: true });
      },
      options.signal,
    );
    return bytes;
  }

  /**
   * STOR `source` as `remote`. `offset`: the server already has that many bytes (REST then
   * STOR; the source must start there). `append`: APPE instead of STOR.
   */
  async upload(source: Readable, remote: string, options: TransferOptions & { offset?: number; append?: boolean } = {}): Promise<number> {
    await this.#binary();
    if (!options.append && options.offset && options.offset > 0) {
      const reply = await this.send(`REST ${options.offset}`);
      if (reply.code !== 350) throw new FtpError(`REST ${options.offset}`, reply);
    }
    let bytes = 0;
    await this.#transfer(
      `${options.append ? 'APPE' : 'STOR'} ${remote}`,
      async (data) => {
        const counter = countingTransform((n) => {
          bytes += n;
          options.onProgress?.(bytes);
        }, options.limitRate);
        await pipeline(source, counter, data);
      },
      options.signal,
    );
    return bytes;
  }

  async #openPassive(): Promise<{ socket: net.Socket }> {
    let port: number | undefined;
    if (this.#epsvWorks) {
      const reply = await this.send('EPSV');
      if (reply.code === 229) port = parseEpsvReply(replyText(reply));
      else this.#epsvWorks = false;
    }
    if (port === undefined) {
      const reply = await this.send('PASV');
      if (reply.code !== 227) throw new FtpError('PASV', reply);
      // The address in a 227 reply is ignored (NAT, and bounce attacks): data goes to the control connection's host.
      port = parsePasvReply(replyText(reply))?.port;
      if (port === undefined) throw new FtpError('PASV', reply);
    }
    const host = this.#raw.remoteAddress ?? this.#host;
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new WharfError('EDEADLINE', `no data connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (error) => {
        clearTimeout(timer);
        reject(new WharfError('ECONNECT', `data connection to ${host}:${port} failed: ${error.message}`));
      });
    });
    return { socket };
  }

  /**
   * One transfer command: open a passive data connection, send the command, run `body` on the
   * data connection (TLS when PROT P) while the server answers 150 … 226.
   */
  async #transfer(command: string, body: (data: net.Socket | tls.TLSSocket) => Promise<void>, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new WharfError('EABORTED', 'cancelled');
    const { socket } = await this.#openPassive();
    let data: net.Socket | tls.TLSSocket = socket;
    socket.on('error', () => {});
    let secured: Promise<void> | undefined;
    if (this.#secureData) {
      const control = this.#socket as tls.TLSSocket;
      const secure = tls.connect({
        socket,
        session: control.getSession(),
        servername: net.isIP(this.#host) ? undefined : this.#host,
        ...this.#options.tlsOptions,
      });
      secure.on('error', () => {});
      data = secure;
      secured = new Promise((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', (error) => reject(new WharfError('ETLS', `TLS on the data connection failed: ${error.message}`)));
      });
    }
    const onAbort = () => {
      data.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let first: Reply;
      try {
        first = await this.send(command);
      } catch (error) {
        data.destroy();
        throw error;
      }
      if (first.code !== 150 && first.code !== 125) {
        data.destroy();
        throw new FtpError(command, first);
      }
      const final = this.#nextReply(0);
      final.catch(() => {});
      try {
        if (secured) await secured;
        await body(data);
      } catch (error) {
        data.destroy();
        if (signal?.aborted) {
          await this.#abortTransfer(final);
          throw new WharfError('EABORTED', 'cancelled');
        }
        // The server's answer says more than a broken pipe does.
        const answer = await untilDeadline(final, 2_000);
        if (answer.settled && answer.value.code >= 400) throw new FtpError(command, answer.value);
        throw error;
      }
      const reply = await final;
      if (reply.code >= 400) throw new FtpError(command, reply);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!data.destroyed) data.destroy();
    }
  }

  async #abortTransfer(final: Promise<Reply>): Promise<void> {
    try {
      this.#sendLine('ABOR');
      // 426 for the transfer (or 226 if it had just finished), then the ABOR's own reply.
      const first = await final;
      if (first.code === 426 || first.code === 451) await this.#nextReply(5_000);
      else if (first.code === 226 || first.code === 225) {
        await untilDeadline(this.#nextReply(1_000), 1_000);
      }
    } catch {
      // Best effort: the connection may be gone.
    }
  }

  async quit(): Promise<void> {
    try {
      await this.send('QUIT', 5_000);
    } catch {
      // Already gone: nothing to say goodbye to.
    }
    await this.close();
  }

  /** Closes the control connection at once (`quit` says goodbye first); resolves when it is closed. */
  async close(): Promise<void> {
    await Promise.all([closeStream(this.#socket, 'destroy'), closeStream(this.#raw, 'destroy')]);
  }
}

/** Counts the bytes going through; with `bytesPerSecond`, also holds them back to that rate. */
function countingTransform(onBytes: (n: number) => void, bytesPerSecond?: number): Transform {
  const started = Date.now();
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      onBytes(chunk.length);
      if (!bytesPerSecond) return callback(null, chunk);
      const due = started + (total / bytesPerSecond) * 1000;
      const wait = due - Date.now();
      if (wait <= 0) callback(null, chunk);
      else setTimeout(() => callback(null, chunk), wait);
    },
  });
}

const LS_LINE = /^([-dlbcps])[rwxsStT-]{9}[+@.]?\s+\d+\s+\S+\s+\S+\s+(\d+)\s+(\w{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4}))\s+(.+)$/;

/** One `ls -l` line as servers send for LIST (vsftpd, pyftpdlib, wharf). */
export function parseListLine(line: string): FtpEntry {
  const match = LS_LINE.exec(line);
  if (!match) return { name: line.trim(), type: 'other', raw: line };
  const kind = match[1];
  let name = match[4] as string;
  if (kind === 'l') name = name.replace(/ -> .*$/, '');
  return {
    name,
    type: kind === 'd' ? 'dir' : kind === '-' ? 'file' : kind === 'l' ? 'link' : 'other',
    size: Number(match[2]),
    raw: line,
  };
}
