/**
 * The portal chat's WebSocket messages (issue #19, item 2), pure: no sockets, no Node APIs, so
 * that the page (portal/browser/page.ts) and the server (web-front-end.ts) share one definition.
 *
 * Every WebSocket message is one JSON object with a `type`, as a text frame. The browser's own
 * WebSocket cannot send length-prefixed binary frames as wharf's TCP protocol does, so this is
 * that protocol's vocabulary (protocol.ts) in JSON text: the same rooms, sequence numbers and
 * catch-up. What a page sends is checked here by hand, field by field, with a limit on each
 * (`parsePortalClientMessage`); anything else is refused with a sentence, never thrown.
 *
 * | page sends | the server answers |
 * |---|---|
 * | (connects) | `hello` {name, room: the default room, maxTextBytes} |
 * | `join` {room, since?} | `joined` {room, members, lastSeq}, then the `msg`s owed, then `synced` |
 * | `say` {text, cid?} | the room gets `msg` {room, seq, kind, from, text, time, cid?} (the sender too) |
 * | `pm` {to, text} | `pm` {from, to, text, time} to both, or `error` no-such-member |
 * | `who` | `members` {room, members} |
 * | `rooms` | `rooms` {rooms: [{name, members}]} |
 * | `history` {before, limit?} | `history` {room, messages, complete} (older messages) |
 * | `ping` | `pong` |
 * | (a member comes or goes) | `presence` {room, joined, left} |
 * | (the account opened the chat elsewhere) | `replaced`, then close 4001 |
 */

/** How a member is connected: a seed client (UDP), wharf's client (TCP), or this page. */
export type PortalTransport = 'udp' | 'tcp' | 'web';

export interface PortalMember {
  name: string;
  via: PortalTransport;
  /** Logged in with a wharf account. */
  account: boolean;
}

/** One message of a room, numbered from 1 in each room (protocol.ts `ChatMessage`). */
export interface PortalChatMessage {
  room: string;
  seq: number;
  kind: 'chat' | 'admin';
  from: string;
  text: string;
  /** Milliseconds since the epoch. */
  time: number;
  cid?: string;
}

export type PortalLeaveReason = 'left' | 'disconnected' | 'expired' | 'moved' | 'kicked';
export type PortalPresenceChange = PortalMember & { reason?: PortalLeaveReason };

export type PortalErrorCode = 'bad-request' | 'bad-name' | 'bad-room' | 'bad-text' | 'name-taken' | 'not-joined' | 'no-such-member' | 'rate-limited' | 'full' | 'unavailable';

export type PortalClientMessage =
  | { type: 'join'; id?: number; room: string; since?: number }
  | { type: 'say'; id?: number; text: string; cid?: string }
  | { type: 'pm'; id?: number; to: string; text: string }
  | { type: 'who'; id?: number }
  | { type: 'rooms'; id?: number }
  | { type: 'history'; id?: number; before: number; limit?: number }
  | { type: 'ping'; id?: number };

export type PortalServerMessage =
  | { type: 'hello'; name: string; room: string; maxTextBytes: number }
  | { type: 'joined'; id?: number; room: string; members: PortalMember[]; lastSeq: number }
  | ({ type: 'msg' } & PortalChatMessage)
  /** The catch-up after `joined` is complete; `gap` when older missed messages were left out. */
  | { type: 'synced'; room: string; lastSeq: number; gap: boolean }
  | { type: 'presence'; room: string; joined: PortalPresenceChange[]; left: PortalPresenceChange[] }
  | { type: 'pm'; from: string; to: string; text: string; time: number }
  | { type: 'members'; id?: number; room: string; members: PortalMember[] }
  | { type: 'rooms'; id?: number; rooms: Array<{ name: string; members: number }> }
  | { type: 'history'; id?: number; room: string; messages: PortalChatMessage[]; complete: boolean }
  | { type: 'pong'; id?: number }
  | { type: 'replaced'; message: string }
  | { type: 'error'; id?: number; code: PortalErrorCode; message: string; retryAfterMs?: number };

/** WebSocket close codes the page acts on (the standard ones, and 4001 of our own). */
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_GOING_AWAY = 1001;
/** "Try again later": the member did not read what it was sent, or the server is overloaded. */
export const CLOSE_TRY_LATER = 1013;
/** The same account opened the chat in another tab, which took the name over: do not reconnect. */
export const CLOSE_REPLACED = 4001;

/** Longest name, room name (in UTF-16 units, before the server's own checks) or `cid`. */
const MAX_NAME_UNITS = 4 * 64;
const MAX_CID_UNITS = 64;
/** Most messages one `history` asks for (the server caps it lower by its config). */
const MAX_HISTORY_LIMIT = 10_000;

export type PortalParseResult = { ok: true; message: PortalClientMessage } | { ok: false; message: string };

/**
 * One message from a page: JSON text of at most `maxBytes` UTF-8 bytes (the socket's `maxPayload`
 * already holds it to that; checked again so the parser stands alone). Unknown fields are
 * ignored (a newer page may send more); a known field of the wrong type is refused.
 */
export function parsePortalClientMessage(text: string, maxBytes: number): PortalParseResult {
  // A UTF-16 unit is at most 3 bytes of UTF-8: only a long text needs counting.
  if (text.length * 3 > maxBytes && utf8Length(text) > maxBytes) return { ok: false, message: `a message is at most ${maxBytes} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: 'a message is a JSON object' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, message: 'a message is a JSON object' };
  const fields = value as Record<string, unknown>;
  const problem = (field: string, what: string): PortalParseResult => ({ ok: false, message: `"${String(fields.type).slice(0, 20)}": "${field}" must be ${what}` });
  const id = fields.id;
  if (id !== undefined && !isCount(id)) return problem('id', 'a whole number');
  const withId = id === undefined ? {} : { id: id as number };
  switch (fields.type) {
    case 'join': {
      if (!isShortString(fields.room, MAX_NAME_UNITS)) return problem('room', `a text of at most ${MAX_NAME_UNITS} characters`);
      if (fields.since !== undefined && !isCount(fields.since)) return problem('since', 'a sequence number');
      return { ok: true, message: { type: 'join', ...withId, room: fields.room, ...(fields.since !== undefined ? { since: fields.since as number } : {}) } };
    }
    case 'say': {
      if (typeof fields.text !== 'string') return problem('text', 'a text');
      if (fields.cid !== undefined && !isShortString(fields.cid, MAX_CID_UNITS)) return problem('cid', `a text of at most ${MAX_CID_UNITS} characters`);
      return { ok: true, message: { type: 'say', ...withId, text: fields.text, ...(fields.cid !== undefined ? { cid: fields.cid as string } : {}) } };
    }
    case 'pm': {
      if (!isShortString(fields.to, MAX_NAME_UNITS)) return problem('to', `a name of at most ${MAX_NAME_UNITS} characters`);
      if (typeof fields.text !== 'string') return problem('text', 'a text');
      return { ok: true, message: { type: 'pm', ...withId, to: fields.to, text: fields.text } };
    }
    case 'history': {
      if (!isCount(fields.before)) return problem('before', 'a sequence number');
      if (fields.limit !== undefined && (!isCount(fields.limit) || fields.limit < 1 || fields.limit > MAX_HISTORY_LIMIT)) return problem('limit', `1 to ${MAX_HISTORY_LIMIT}`);
      return { ok: true, message: { type: 'history', ...withId, before: fields.before, ...(fields.limit !== undefined ? { limit: fields.limit as number } : {}) } };
    }
    case 'who':
    case 'rooms':
    case 'ping':
      return { ok: true, message: { type: fields.type, ...withId } };
    default:
      return { ok: false, message: typeof fields.type === 'string' ? `unknown message type "${fields.type.slice(0, 20)}"` : 'a message needs a "type"' };
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isShortString(value: unknown, maxUnits: number): value is string {
  return typeof value === 'string' && value.length <= maxUnits;
}

/** Bytes of `text` in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// The page's side: what it remembers of each room, and what a typed line means
// ---------------------------------------------------------------------------------------------

/**
 * The messages a page holds for one room, by sequence number: a message it already has (sent
 * again by a catch-up after a reconnect, or by both the live stream and the history) is not
 * added twice, and `last` is what the page asks the server for after (`join` with `since`).
 * At most `max` are kept (the newest).
 */
export class RoomLog {
  readonly messages: PortalChatMessage[] = [];
  #last = 0;
  #known = false;

  constructor(readonly max = 500) {}

  /** The highest sequence number seen, or undefined before the room was ever joined. */
  get last(): number | undefined {
    return this.#known ? this.#last : undefined;
  }

  /** The room's numbering is known up to `seq` (the `synced` after a catch-up). */
  known(seq: number): void {
    this.#known = true;
    if (seq > this.#last) this.#last = seq;
  }

  /**
   * Add a message; returns where it went (its index) or -1 when it was already here or is older
   * than everything kept. Messages normally come in order, so this is an append.
   */
  add(message: PortalChatMessage): number {
    const list = this.messages;
    const tail = list.at(-1);
    let index: number;
    if (tail === undefined || message.seq > tail.seq) index = list.length;
    else {
      index = lowerBound(list, message.seq);
      if (list[index]?.seq === message.seq) return -1;
      if (index === 0 && list.length >= this.max) return -1;
    }
    list.splice(index, 0, message);
    this.known(message.seq);
    if (list.length > this.max) {
      list.splice(0, list.length - this.max);
      index -= 1;
    }
    return index;
  }

  has(seq: number): boolean {
    return this.messages[lowerBound(this.messages, seq)]?.seq === seq;
  }
}

function lowerBound(list: readonly PortalChatMessage[], seq: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (list[middle]!.seq < seq) low = middle + 1;
    else high = middle;
  }
  return low;
}

export type TypedLine =
  | { kind: 'say'; text: string }
  | { kind: 'pm'; to: string; text: string }
  | { kind: 'join'; room: string }
  | { kind: 'help' }
  | { kind: 'empty' }
  | { kind: 'unknown'; command: string };

/**
 * What a line typed in the page means, as in `wharf chat`: `/msg NAME TEXT` a private message,
 * `/join ROOM` another room, `//text` says `/text`, anything else is said.
 */
export function parseTypedLine(line: string): TypedLine {
  if (line.trim() === '') return { kind: 'empty' };
  if (line.startsWith('//')) return { kind: 'say', text: line.slice(1) };
  if (!line.startsWith('/')) return { kind: 'say', text: line };
  const match = /^\/(\S+)\s*(.*)$/su.exec(line);
  const command = (match?.[1] ?? '').toLowerCase();
  const rest = match?.[2] ?? '';
  if (command === 'msg' || command === 'pm') {
    const pm = /^(\S+)\s+(.+)$/su.exec(rest);
    if (pm) return { kind: 'pm', to: pm[1]!, text: pm[2]! };
    return { kind: 'unknown', command: `/${command}` };
  }
  if (command === 'join' && rest.trim() !== '') return { kind: 'join', room: rest.trim() };
  if (command === 'help' || command === '?') return { kind: 'help' };
  return { kind: 'unknown', command: `/${command}` };
}

/** The wait before reconnect attempt `attempt` (0, 1, …): doubling from 0.5 s to 30 s, with jitter. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + (random() * base) / 2);
}
