/**
 * What an FTP session remembers between commands, and the rules of which command may follow which,
 * pure (like TFTP's `SendWindow`, h11's `_state.py`): no sockets, no files, so every rule is tested
 * without a server (test/services/ftp/session-state.test.ts).
 *
 * - login: USER, then PASS (a failed PASS needs USER again; AUTH TLS and REIN start over);
 * - RNFR, then RNTO as the very next command;
 * - REST, then the RETR, STOR, APPE or STOU that uses its offset (REST stays until one takes it);
 * - RANG, then HASH as the very next command (never a transfer: only part of a file was asked for);
 * - AUTH TLS, then PBSZ, then PROT;
 * - EPSV ALL: no PORT, EPRT or PASV after it;
 * - during a transfer only ABOR, STAT, NOOP and QUIT run; others wait, and QUIT waits for its end.
 *
 * The session (session.ts) asks `admit` before each command and runs the handler only when told
 * to; the handlers call the other methods as they go.
 */
import { knownCommand, printable, type FtpVerb } from './commands.js';
import { DEFAULT_HASH, type ByteRange, type HashAlgorithm } from './hash.js';
import { MLST_FACTS, type MlstFact } from './listing.js';
import { virtualParent } from './paths.js';

/** A reply the session sends instead of going on. */
export interface Refusal {
  code: number;
  message: string;
}

/** What to do with a command line, given the state. `R` is the session's record of an RNFR source. */
export type Admission<R> =
  | { kind: 'unknown' }
  | ({ kind: 'refused' } & Refusal)
  | {
      kind: 'run';
      verb: FtpVerb;
      argument: string;
      /** What RNFR left for this command (only RNTO uses it). */
      renameFrom: R | undefined;
      /** What RANG left for this command (only HASH uses it). */
      range: ByteRange | undefined;
    };

export type UploadMode = 'stor' | 'appe' | 'stou';

/** Where an upload's bytes go: a new file, the end of the partial kept from an interrupted upload, or a copy of the whole file. */
export interface UploadStart {
  kind: 'fresh' | 'partial' | 'copy';
  /** The offset of the first byte the upload writes. */
  start: number;
}

/**
 * Where an upload starts, given REST's offset (0 for none) and the sizes of the name's partial and
 * file (undefined where there is none). APPE continues the partial, else the file; STOR and STOU
 * after REST <n> need one of them to hold n bytes (the 554 says how many there are).
 */
export function uploadStart(mode: UploadMode, rest: number, sizes: { partial: number | undefined; file: number | undefined }): UploadStart | { code: 554; bytes: number } {
  const { partial, file } = sizes;
  if (mode === 'appe') {
    if (partial !== undefined) return { kind: 'partial', start: partial };
    if (file !== undefined) return { kind: 'copy', start: file };
    return { kind: 'fresh', start: 0 };
  }
  if (rest === 0) return { kind: 'fresh', start: 0 };
  if (partial !== undefined && rest <= partial) return { kind: 'partial', start: rest };
  if (file !== undefined && rest <= file) return { kind: 'copy', start: rest };
  return { code: 554, bytes: Math.max(partial ?? 0, file ?? 0) };
}

export type LoginState =
  | { kind: 'out' }
  | { kind: 'user-sent'; name: string; anonymous: boolean }
  | { kind: 'in'; account: string | undefined; anonymousId: string | undefined };

const ANONYMOUS_NAMES = new Set(['anonymous', 'ftp']);
const TRANSFER_VERBS: ReadonlySet<FtpVerb> = new Set(['RETR', 'STOR', 'APPE', 'STOU']);
const NOT_LOGGED_IN: Refusal = { code: 530, message: 'Please log in with USER and PASS first.' };
const EPSV_ALL_SENT: Refusal = { code: 503, message: 'EPSV ALL was sent: only EPSV is allowed now.' };

export class FtpSessionState<R = unknown> {
  readonly #requireTls: boolean;
  #login: LoginState = { kind: 'out' };
  #rest = 0;
  #renameFrom: R | undefined;
  #range: ByteRange | undefined;
  #secure = false;
  #pbsz = false;
  #protectData = false;
  #epsvAll = false;
  #transferring = false;
  #quitAfterTransfer = false;

  /** The current folder, a virtual path (`/` is the home). */
  cwd = '/';
  type: 'ascii' | 'binary' = 'ascii';
  /** The MLST facts chosen with OPTS MLST. */
  facts: MlstFact[] = [...MLST_FACTS];
  /** The algorithm chosen with OPTS HASH. */
  hashAlgorithm: HashAlgorithm = DEFAULT_HASH;

  /** `requireTls`: logins, registrations and data connections need TLS (the server's config). */
  constructor(options: { requireTls: boolean }) {
    this.#requireTls = options.requireTls;
  }

  get login(): LoginState {
    return this.#login;
  }

  get loggedIn(): boolean {
    return this.#login.kind === 'in';
  }

  /** The control connection is encrypted (AUTH TLS succeeded). */
  get secure(): boolean {
    return this.#secure;
  }

  get protectData(): boolean {
    return this.#protectData;
  }

  get transferring(): boolean {
    return this.#transferring;
  }

  // -------------------------------------------------------------------------------------------
  // Every command

  /**
   * Before a command runs: refused for a missing argument or a missing login (what RNFR and RANG
   * left then stays for the next command), else run, taking what RNFR and RANG left for it.
   */
  admit(verb: string, argument: string): Admission<R> {
    const known = knownCommand(verb);
    if (!known) return { kind: 'unknown' };
    if (known.rule.argument === 'required' && argument.trim() === '') return { kind: 'refused', code: 501, message: `Syntax: ${known.syntax}.` };
    if (known.rule.login && !this.loggedIn) return { kind: 'refused', ...NOT_LOGGED_IN };
    const renameFrom = this.#renameFrom;
    const range = this.#range;
    this.#renameFrom = undefined;
    this.#range = undefined;
    // A client that sends RANG before a transfer wants part of a file: never send it the whole one.
    if (range && TRANSFER_VERBS.has(known.verb)) {
      return { kind: 'refused', code: 504, message: 'RANG applies to HASH only on this server; the range is cleared: send the transfer again without it.' };
    }
    return { kind: 'run', verb: known.verb, argument, renameFrom, range };
  }

  /** A command read while a transfer runs waits for its end unless it is one of ABOR, STAT, NOOP, QUIT. */
  waitsForTransfer(verb: string): boolean {
    if (!this.#transferring) return false;
    return knownCommand(verb)?.rule.duringTransfer !== true;
  }

  // -------------------------------------------------------------------------------------------
  // Login

  /** USER: the name to check at PASS, and the 331 (or why not). */
  user(argument: string): Refusal {
    if (this.loggedIn) return { code: 530, message: 'Already logged in; use REIN to log in as someone else.' };
    const name = argument.trim();
    if (ANONYMOUS_NAMES.has(name.toLowerCase())) {
      this.#login = { kind: 'user-sent', name, anonymous: true };
      return { code: 331, message: 'Anonymous login: send your e-mail address as the password.' };
    }
    if (this.#requireTls && !this.#secure) return { code: 530, message: 'This server requires encryption for logins: send AUTH TLS first.' };
    this.#login = { kind: 'user-sent', name, anonymous: false };
    return { code: 331, message: `Password required for ${printable(name)}.` };
  }

  /** PASS: the name USER gave, taken (a failed password needs USER again), or the 503. */
  takeUser(): { name: string; anonymous: boolean } | Refusal {
    const login = this.#login;
    if (login.kind === 'in') return { code: 503, message: 'Already logged in.' };
    if (login.kind === 'out') return { code: 503, message: 'Send USER first.' };
    this.#login = { kind: 'out' };
    return { name: login.name, anonymous: login.anonymous };
  }

  /** PASS succeeded: an account, or anonymous with the e-mail address it gave. */
  loggedInAs(account: string | undefined, anonymousId?: string): void {
    this.#login = { kind: 'in', account, anonymousId: account === undefined ? anonymousId : undefined };
    this.cwd = '/';
  }

  /** The account logged in; undefined before login and for anonymous. */
  get account(): string | undefined {
    return this.#login.kind === 'in' ? this.#login.account : undefined;
  }

  get anonymousId(): string | undefined {
    return this.#login.kind === 'in' ? this.#login.anonymousId : undefined;
  }

  /** REIN: logged out, the transfer parameters back to their defaults; TLS and PROT stay. */
  reinitialize(): void {
    this.#login = { kind: 'out' };
    this.cwd = '/';
    this.#rest = 0;
    this.type = 'ascii';
    this.#epsvAll = false;
  }

  // -------------------------------------------------------------------------------------------
  // Folders, renames, restarts, ranges

  cdup(): void {
    this.cwd = virtualParent(this.cwd);
  }

  /** RNFR succeeded: the source, for the next command if it is RNTO. */
  renameFromSet(source: R): void {
    this.#renameFrom = source;
  }

  /** REST <offset>: kept until a transfer takes it. */
  restart(argument: string): Refusal {
    const text = argument.trim();
    const offset = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(offset)) return { code: 501, message: 'Syntax: REST <byte offset>.' };
    this.#rest = offset;
    return { code: 350, message: `Restarting at ${offset}. Send STOR or RETR to start the transfer.` };
  }

  /** The REST offset for the transfer that starts now (0 without one); REST is used up. */
  takeRestart(): number {
    const rest = this.#rest;
    this.#rest = 0;
    return rest;
  }

  /** RANG: the range for the next command if it is HASH. */
  rangeSet(range: ByteRange): void {
    this.#range = range;
  }

  // -------------------------------------------------------------------------------------------
  // TLS (RFC 4217)

  /** AUTH TLS may start (the server has a certificate): undefined, or the 503 when already secure. */
  authRefusal(): Refusal | undefined {
    return this.#secure ? { code: 503, message: 'Already using TLS.' } : undefined;
  }

  /** The TLS handshake starts: RFC 4217 §4, a new security exchange resets the login in progress. */
  secured(): void {
    this.#secure = true;
    if (this.#login.kind === 'user-sent') this.#login = { kind: 'out' };
  }

  pbsz(argument: string): Refusal {
    if (!this.#secure) return { code: 503, message: 'PBSZ needs AUTH TLS first.' };
    if (!/^\d+$/.test(argument.trim())) return { code: 501, message: 'Syntax: PBSZ 0.' };
    this.#pbsz = true;
    return { code: 200, message: 'PBSZ=0' };
  }

  prot(argument: string): Refusal {
    if (!this.#secure) return { code: 503, message: 'PROT needs AUTH TLS first.' };
    if (!this.#pbsz) return { code: 503, message: 'PROT needs PBSZ first.' };
    const level = argument.trim().toUpperCase();
    if (level === 'P') {
      this.#protectData = true;
      return { code: 200, message: 'Protection level set to Private.' };
    }
    if (level === 'C') {
      if (this.#requireTls) return { code: 536, message: 'This server requires encrypted data connections (PROT P).' };
      this.#protectData = false;
      return { code: 200, message: 'Protection level set to Clear.' };
    }
    if (level === 'S' || level === 'E') return { code: 536, message: `PROT ${level} is not supported.` };
    return { code: 504, message: `Unknown protection level "${printable(level)}".` };
  }

  // -------------------------------------------------------------------------------------------
  // Data connections and transfers

  epsvAll(): void {
    this.#epsvAll = true;
  }

  /** PORT, EPRT and PASV: refused after EPSV ALL. */
  addressRefusal(): Refusal | undefined {
    return this.#epsvAll ? EPSV_ALL_SENT : undefined;
  }

  /** A data connection may be used now (with `prepared`: one was set up by PASV, EPSV, PORT or EPRT). */
  dataRefusal(prepared: boolean): Refusal | undefined {
    if (!prepared) return { code: 425, message: 'Use PORT, PASV, EPRT or EPSV first.' };
    if (this.#requireTls && !this.#protectData) return { code: 522, message: 'Data connections must be encrypted: send PBSZ 0 and PROT P first.' };
    return undefined;
  }

  transferStarted(): void {
    this.#transferring = true;
  }

  /** The transfer ended: 'quit' when QUIT arrived meanwhile and the goodbye is due now. */
  transferEnded(): 'quit' | undefined {
    this.#transferring = false;
    return this.#quitAfterTransfer ? 'quit' : undefined;
  }

  /** QUIT: goodbye now, or after the transfer in progress. */
  quit(): 'now' | 'after-transfer' {
    if (!this.#transferring) return 'now';
    this.#quitAfterTransfer = true;
    return 'after-transfer';
  }
}
