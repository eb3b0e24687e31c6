/**
 * The chat room's protocols, pure: no sockets, no clocks, no store.
 *
 * 1. **The seed protocol** (seed 000 §8), UTF-8 text datagrams, fields split on the first two
 *    spaces exactly as the seed's `data.decode().split(' ', 2)`:
 *
 *    | client sends  | server answers / tells the others          |
 *    |---------------|---------------------------------------------|
 *    | `L name`      | `OK` or `FAIL`; others get `欢迎 name 进入聊天室` |
 *    | `C name text` | every other member gets `name : text`       |
 *    | `E name`      | others get `name 退出了群聊`                  |
 *    | (console)     | everyone gets `管理员消息 : text`              |
 *
 * 2. **wharf's protocol** over TCP: frames of a 4-byte big-endian length and a UTF-8 JSON object
 *    with a `type`. Room messages carry a per-room sequence number; a client that reconnects
 *    says the last one it saw (`since`) and gets exactly the ones after it.
 */
import { z } from 'zod';
import { accountNameKey, newAccountNameProblem } from '../../store/account-names.js';

/** The name the seed's console messages appear under (`管理员消息 : text`). */
export const ADMIN_NAME = '管理员消息';
/** No member's name may contain this ("admin"), so nobody can pose as the console. */
export const RESERVED_NAME_PART = '管理';
/** The room seed-protocol members are in, and wharf clients join unless they ask for another. */
export const DEFAULT_ROOM = 'lobby';
/** Longest name or room name, in characters (code points): the same as an account name. */
export const MAX_NAME_CHARS = 64;
/** wharf's protocol version, sent in `hello` and `welcome`. */
export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Names and text
// ---------------------------------------------------------------------------------------------

/** White space, control and format characters (bidi overrides, zero-width), lone surrogates. */
const FORBIDDEN_IN_NAME = /[\p{White_Space}\p{Cc}\p{Cf}\p{Cs}]/u;
/** Control characters other than tab, and lone surrogates: never in a message. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_IN_TEXT = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\p{Cs}]/u;

/**
 * Why `name` cannot be a member's name, or undefined when it can: the rules of a new account's
 * name (docs/accounts.md "Names": no white space, control, format or invisible characters, no
 * slashes, not a reserved name such as `admin` or `system`, in any case or NFKC form), and not
 * containing `管理` ("admin") in any form, so that nobody can pose as the console. A name is
 * refused rather than cleaned: cleaning `ali\u200bce` would make it `alice`, someone else's name.
 */
export function nameProblem(name: string): string | undefined {
  if (accountNameKey(name).includes(RESERVED_NAME_PART)) return `the name contains "${RESERVED_NAME_PART}" (reserved for the administrator)`;
  const problem = newAccountNameProblem(name);
  return problem && `the name ${problem.replace(/^it /, '')}`;
}

/** Why `room` cannot be a room's name (the rules of a member's name, without the reserved word). */
export function roomProblem(room: string): string | undefined {
  const normalized = room.normalize('NFC');
  const length = [...normalized].length;
  if (length === 0) return 'the room name is empty';
  if (length > MAX_NAME_CHARS) return `the room name is longer than ${MAX_NAME_CHARS} characters`;
  if (FORBIDDEN_IN_NAME.test(normalized)) return 'the room name contains a space or a control character';
  return undefined;
}

/** Why `text` cannot be a message, or undefined when it can. */
export function textProblem(text: string, maxBytes: number): string | undefined {
  if (text.trim() === '') return 'the message is empty';
  if (Buffer.byteLength(text) > maxBytes) return `the message is longer than ${maxBytes} bytes`;
  if (FORBIDDEN_IN_TEXT.test(text)) return 'the message contains a control character';
  return undefined;
}

/** Names compare after Unicode NFC, so `é` typed two ways is one name. */
export function normalizeName(name: string): string {
  return name.normalize('NFC');
}

/** Two members' names are the same name when their keys are (`Alice` is `alice`): see accountNameKey. */
export const nameKey = accountNameKey;

const LINE_SEPARATORS = /[\u2028\u2029]/u;
const FORMAT = /\p{Cf}/u;
const LETTER_OR_MARK = /[\p{L}\p{M}]/u;
/** What may stand before an emoji's zero-width joiner: a pictograph, a skin tone, or VS16. */
const EMOJI_BEFORE_JOINER = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\ufe0f]/u;
const EMOJI = /\p{Extended_Pictographic}/u;
const BLACK_FLAG = '\u{1f3f4}';
const TAG = /[\u{e0020}-\u{e007f}]/u;

/**
 * A message as every member is shown it, on every transport (docs/chat.md, "Text"): line and
 * paragraph separators (U+2028, U+2029) become spaces, and format characters (Cf: bidi overrides
 * and isolates such as U+202E, marks such as U+200E, zero-width spaces, U+FEFF, soft hyphens) are
 * removed, so that no member can reorder a line or start a new one that looks like a
 * `管理员消息 : …` notice. Kept, because writing needs them and they move nothing: a zero-width
 * joiner between emoji (👩‍💻, 🏳️‍🌈) or a joiner or non-joiner between letters (Persian, Indic
 * scripts), and the tag characters of a flag (🏴 + tags, e.g. England's). Combining marks and
 * variation selectors are not format characters and stay. Control characters are not cleaned
 * but refused (`textProblem`).
 */
export function cleanText(text: string): string {
  if (!FORMAT.test(text) && !LINE_SEPARATORS.test(text)) return text;
  const chars = [...text];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i]!;
    if (LINE_SEPARATORS.test(char)) out += ' ';
    else if (!FORMAT.test(char) || keepsFormat(char, chars[i - 1] ?? '', chars[i + 1] ?? '', out)) out += char;
  }
  return out;
}

function keepsFormat(char: string, before: string, after: string, kept: string): boolean {
  if (char === '\u200d' && EMOJI_BEFORE_JOINER.test(before) && EMOJI.test(after)) return true;
  if ((char === '\u200c' || char === '\u200d') && LETTER_OR_MARK.test(before) && LETTER_OR_MARK.test(after)) return true;
  // A tag sequence: tags right after the black flag, or after a tag that was kept.
  if (TAG.test(char)) return before === BLACK_FLAG || (TAG.test(before) && kept.endsWith(before));
  return false;
}

// ---------------------------------------------------------------------------------------------
// The seed protocol
// ---------------------------------------------------------------------------------------------

export type SeedRequest =
  | { kind: 'login'; name: string }
  | { kind: 'chat'; name: string; text: string }
  | { kind: 'exit'; name: string };

export type SeedParseFailure = 'empty' | 'not-utf8' | 'unknown-command' | 'missing-field';

export type SeedParseResult = { ok: true; request: SeedRequest } | { ok: false; reason: SeedParseFailure };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Python's `text.split(' ', 2)`: at most three fields, split on single spaces (so two spaces in
 * a row make an empty field, as in the seed).
 */
export function splitSeedFields(text: string): string[] {
  const first = text.indexOf(' ');
  if (first < 0) return [text];
  const second = text.indexOf(' ', first + 1);
  if (second < 0) return [text.slice(0, first), text.slice(first + 1)];
  return [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
}

/**
 * One seed datagram. Invalid UTF-8 is refused (the seed would crash decoding it). One trailing
 * line ending is ignored, so `nc -u` users can type commands. `L` and `E` take the rest of the
 * datagram as the name: a name with a space in it is then refused by `nameProblem` instead of
 * being cut short as the seed would (`L a b` logged in as `a`).
 */
export function parseSeedDatagram(bytes: Uint8Array): SeedParseResult {
  if (bytes.length === 0) return { ok: false, reason: 'empty' };
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'not-utf8' };
  }
  if (text.endsWith('\r\n')) text = text.slice(0, -2);
  else if (text.endsWith('\n')) text = text.slice(0, -1);
  const fields = splitSeedFields(text);
  const command = fields[0];
  if (command === 'L' || command === 'E') {
    if (fields.length < 2) return { ok: false, reason: 'missing-field' };
    const name = text.slice(2);
    return { ok: true, request: command === 'L' ? { kind: 'login', name } : { kind: 'exit', name } };
  }
  if (command === 'C') {
    if (fields.length < 3) return { ok: false, reason: 'missing-field' };
    return { ok: true, request: { kind: 'chat', name: fields[1] ?? '', text: fields[2] ?? '' } };
  }
  return { ok: false, reason: text === '' ? 'empty' : 'unknown-command' };
}

export const SEED_OK = 'OK';
export const SEED_FAIL = 'FAIL';

export function seedLogin(name: string): string {
  return `L ${name}`;
}
export function seedChat(name: string, text: string): string {
  return `C ${name} ${text}`;
}
export function seedExit(name: string): string {
  return `E ${name}`;
}

/** What the others see when `from` says `text` (the seed's `"%s : %s"`). */
export function formatSeedChat(from: string, text: string): string {
  return `${from} : ${text}`;
}

/** A console message, as the seed's server produced it by sending itself `C 管理员消息 text`. */
export function formatSeedAdmin(text: string): string {
  return formatSeedChat(ADMIN_NAME, text);
}

/** A private message from a wharf client to a seed member (the seed has none; plain text it can print). */
export function formatSeedPrivate(from: string, text: string): string {
  return `${from} (私聊) : ${text}`;
}

/** Names joined the way Chinese lists them: `a、b、c`. */
function nameList(names: readonly string[]): string {
  return names.join('、');
}

export function formatSeedWelcome(names: readonly string[]): string {
  return `欢迎 ${nameList(names)} 进入聊天室`;
}

export type LeaveReason = 'left' | 'disconnected' | 'expired' | 'moved' | 'kicked';

export function formatSeedLeft(names: readonly string[], reason: LeaveReason = 'left'): string {
  if (reason === 'expired') return `${nameList(names)} 退出了群聊（长时间没有消息）`;
  return `${nameList(names)} 退出了群聊`;
}

/**
 * Names of a crowd that came or went at once, grouped so that each presence line is at most
 * `maxBytes` (the seed client reads 10,240 bytes; 1,024 keeps a line on one screen). A name too
 * long for any line gets a line of its own. Linear in the total length of the names.
 */
export function groupPresenceNames(kind: 'join' | 'leave', names: readonly string[], reason: LeaveReason = 'left', maxBytes = 1024): string[][] {
  const overhead = Buffer.byteLength(kind === 'join' ? formatSeedWelcome(['']) : formatSeedLeft([''], reason));
  const separator = Buffer.byteLength('、');
  const groups: string[][] = [];
  let group: string[] = [];
  let bytes = overhead;
  for (const name of names) {
    const size = Buffer.byteLength(name);
    if (group.length > 0 && bytes + separator + size > maxBytes) {
      groups.push(group);
      group = [];
      bytes = overhead;
    }
    bytes += (group.length > 0 ? separator : 0) + size;
    group.push(name);
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** The presence lines for a crowd (see `groupPresenceNames`). */
export function formatSeedPresence(kind: 'join' | 'leave', names: readonly string[], reason: LeaveReason = 'left', maxBytes = 1024): string[] {
  return groupPresenceNames(kind, names, reason, maxBytes).map((group) => (kind === 'join' ? formatSeedWelcome(group) : formatSeedLeft(group, reason)));
}

// ---------------------------------------------------------------------------------------------
// wharf's protocol: frames
// ---------------------------------------------------------------------------------------------

/** Bytes of the length field in front of every frame. */
export const FRAME_LENGTH_BYTES = 4;
/** Largest frame a client may send (a message is at most a few KiB). */
export const DEFAULT_MAX_CLIENT_FRAME_BYTES = 64 * 1024;
/** Largest frame the server sends (a `history` answer holds up to 200 messages). */
export const DEFAULT_MAX_SERVER_FRAME_BYTES = 4 * 1024 * 1024;

export type MessageKind = 'chat' | 'admin';

/** One message of a room's history: numbered from 1 in each room, in the order the room saw them. */
export interface ChatMessage {
  room: string;
  seq: number;
  kind: MessageKind;
  from: string;
  text: string;
  /** Milliseconds since the epoch. */
  time: number;
  /** The sender's own id for it (wharf clients), so a resent message can be recognised. */
  cid?: string;
}

/** How a member is connected: the seed's UDP, wharf's TCP, or the browser portal's WebSocket. */
export type Transport = 'udp' | 'tcp' | 'web';

export interface MemberSummary {
  name: string;
  via: Transport;
  /** Logged in with a wharf account. */
  account: boolean;
}

const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const shortString = z.string().max(4 * MAX_NAME_CHARS);

/** Frames a client sends. Unknown fields are ignored (a newer client may send more). */
export const clientFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    id,
    v: z.number().int().optional(),
    name: shortString,
    room: shortString.optional(),
    /** Log in with this wharf account's password (the name is the account name). */
    password: z.string().max(1024).optional(),
    /** The last sequence number this client saw in `room` (reconnect): only later messages are sent. */
    since: seq.optional(),
    /** The session token of an earlier connection: take over its name without a leave/join. */
    resume: z.string().max(128).optional(),
  }),
  z.object({ type: z.literal('say'), id, text: z.string(), cid: z.string().max(64).optional() }),
  /**
   * One message without joining (`wharf chat send`): nobody is told of a join or a leave. The
   * name's rules are hello's (a registered name needs its password); refused while a member
   * holds the name, unless the password was given.
   */
  z.object({
    type: z.literal('post'),
    id,
    name: shortString,
    room: shortString.optional(),
    password: z.string().max(1024).optional(),
    text: z.string(),
    cid: z.string().max(64).optional(),
  }),
  z.object({ type: z.literal('pm'), id, to: shortString, text: z.string() }),
  z.object({ type: z.literal('who'), id }),
  z.object({ type: z.literal('join'), id, room: shortString, since: seq.optional() }),
  z.object({ type: z.literal('history'), id, limit: z.number().int().min(1).max(10_000).optional(), before: seq.optional() }),
  z.object({ type: z.literal('ping'), id }),
  z.object({ type: z.literal('bye'), id }),
]);

export type ClientFrame = z.infer<typeof clientFrameSchema>;

export type ErrorCode =
  | 'bad-request'
  | 'bad-name'
  | 'bad-room'
  | 'bad-text'
  | 'name-taken'
  | 'name-reserved'
  | 'auth-failed'
  | 'not-joined'
  | 'no-such-member'
  | 'rate-limited'
  | 'full'
  | 'unavailable';

export type PresenceChange = { name: string; via: Transport; account: boolean; reason?: LeaveReason };

/** Frames the server sends. */
export type ServerFrame =
  | {
      type: 'welcome';
      id?: number;
      v: number;
      name: string;
      room: string;
      account: boolean;
      members: MemberSummary[];
      /** The room's last sequence number now; the catch-up that follows ends with `synced`. */
      lastSeq: number;
      /** Present it as `resume` when reconnecting. */
      token: string;
    }
  | { type: 'joined'; id?: number; room: string; members: MemberSummary[]; lastSeq: number }
  | { type: 'msg'; room: string; seq: number; kind: MessageKind; from: string; text: string; time: number; cid?: string }
  /** The catch-up after `welcome`/`joined` is complete; `gap` when older missed messages were left out. */
  | { type: 'synced'; room: string; lastSeq: number; gap: boolean }
  | { type: 'presence'; room: string; joined: PresenceChange[]; left: PresenceChange[] }
  | { type: 'pm'; from: string; to: string; text: string; time: number }
  | { type: 'members'; id?: number; room: string; members: MemberSummary[] }
  | { type: 'history'; id?: number; room: string; messages: ChatMessage[]; complete: boolean }
  | { type: 'pong'; id?: number }
  /** The answer to `post`: the message's number in its room. */
  | { type: 'posted'; id?: number; room: string; seq: number; time: number }
  | { type: 'error'; id?: number; code: ErrorCode; message: string; retryAfterMs?: number };

const memberSummarySchema = z.object({ name: z.string(), via: z.enum(['udp', 'tcp', 'web']), account: z.boolean() });
const chatMessageSchema = z.object({
  room: z.string(),
  seq,
  kind: z.enum(['chat', 'admin']),
  from: z.string(),
  text: z.string(),
  time: z.number(),
  cid: z.string().optional(),
});
const presenceChangeSchema = z.object({
  name: z.string(),
  via: z.enum(['udp', 'tcp', 'web']),
  account: z.boolean(),
  reason: z.enum(['left', 'disconnected', 'expired', 'moved', 'kicked']).optional(),
});

/** The client's check of what the server sends: a frame it does not understand is skipped. */
export const serverFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    id,
    v: z.number(),
    name: z.string(),
    room: z.string(),
    account: z.boolean(),
    members: z.array(memberSummarySchema),
    lastSeq: seq,
    token: z.string(),
  }),
  z.object({ type: z.literal('joined'), id, room: z.string(), members: z.array(memberSummarySchema), lastSeq: seq }),
  chatMessageSchema.extend({ type: z.literal('msg') }),
  z.object({ type: z.literal('synced'), room: z.string(), lastSeq: seq, gap: z.boolean() }),
  z.object({ type: z.literal('presence'), room: z.string(), joined: z.array(presenceChangeSchema), left: z.array(presenceChangeSchema) }),
  z.object({ type: z.literal('pm'), from: z.string(), to: z.string(), text: z.string(), time: z.number() }),
  z.object({ type: z.literal('members'), id, room: z.string(), members: z.array(memberSummarySchema) }),
  z.object({ type: z.literal('history'), id, room: z.string(), messages: z.array(chatMessageSchema), complete: z.boolean() }),
  z.object({ type: z.literal('pong'), id }),
  z.object({ type: z.literal('posted'), id, room: z.string(), seq, time: z.number() }),
  z.object({ type: z.literal('error'), id, code: z.string(), message: z.string(), retryAfterMs: z.number().optional() }),
]);

/** A frame on the wire: the 4-byte big-endian length of the JSON, then the JSON in UTF-8. */
export function encodeFrame(frame: ServerFrame | ClientFrame): Buffer {
  const json = JSON.stringify(frame);
  const length = Buffer.byteLength(json);
  const out = Buffer.allocUnsafe(FRAME_LENGTH_BYTES + length);
  out.writeUInt32BE(length, 0);
  out.write(json, FRAME_LENGTH_BYTES, 'utf8');
  return out;
}

export type DecodeResult<T> = { ok: true; frame: T } | { ok: false; message: string };

function parseJson(body: Uint8Array): { ok: true; value: unknown } | { ok: false; message: string } {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return { ok: false, message: 'the frame is not valid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: 'the frame is not valid JSON' };
  }
}

/** A frame body (what follows the length) from a client: JSON, then checked against the schema. */
export function decodeClientFrame(body: Uint8Array): DecodeResult<ClientFrame> {
  const json = parseJson(body);
  if (!json.ok) return json;
  const parsed = clientFrameSchema.safeParse(json.value);
  if (!parsed.success) {
    const type = typeof json.value === 'object' && json.value !== null ? (json.value as { type?: unknown }).type : undefined;
    return { ok: false, message: typeof type === 'string' ? `bad "${type.slice(0, 40)}" frame: ${parsed.error.issues[0]?.message ?? 'invalid'}` : 'a frame needs a known "type"' };
  }
  return { ok: true, frame: parsed.data };
}

export type ParsedServerFrame = z.infer<typeof serverFrameSchema>;

export function decodeServerFrame(body: Uint8Array): DecodeResult<ParsedServerFrame> {
  const json = parseJson(body);
  if (!json.ok) return json;
  const parsed = serverFrameSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, message: `unexpected frame from the server: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  return { ok: true, frame: parsed.data };
}

/** The `msg` frame of a message. */
export function messageFrame(message: ChatMessage): ServerFrame {
  const frame: ServerFrame = { type: 'msg', room: message.room, seq: message.seq, kind: message.kind, from: message.from, text: message.text, time: message.time };
  if (message.cid !== undefined) frame.cid = message.cid;
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers and catch-up
// ---------------------------------------------------------------------------------------------

/**
 * Merge what a joining (or returning) member must be sent: the history fetched after `since` and
 * the live messages that arrived while it was being fetched. Ascending, each sequence number once,
 * only numbers after `since`.
 */
export function mergeCatchUp(since: number, ...lists: ReadonlyArray<readonly ChatMessage[]>): ChatMessage[] {
  const bySeq = new Map<number, ChatMessage>();
  for (const list of lists) {
    for (const message of list) if (message.seq > since && !bySeq.has(message.seq)) bySeq.set(message.seq, message);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * The newest `limit` messages with `after < seq < before` out of an ascending list, and whether
 * they are all of the messages in that range that the list could hold (`complete`).
 */
export function selectRange(messages: readonly ChatMessage[], after: number, before: number, limit: number): ChatMessage[] {
  const inRange = messages.filter((m) => m.seq > after && m.seq < before);
  return inRange.length > limit ? inRange.slice(inRange.length - limit) : inRange;
}

/**
 * A client's memory of the last sequence number it showed in each room: a message is shown
 * only if its number is higher, so a replay after a reconnect never shows one twice.
 */
export class SequenceTracker {
  readonly #last = new Map<string, number>();

  /** The last number seen in `room`, or undefined before the first message. */
  last(room: string): number | undefined {
    return this.#last.get(room);
  }

  /** Record that the room's history up to `seq` is known (the `lastSeq` of a fresh join). */
  known(room: string, seq: number): void {
    const current = this.#last.get(room);
    if (current === undefined || seq > current) this.#last.set(room, seq);
  }

  /** True when `message` is new (and remember it); false for one already seen. */
  accept(message: Pick<ChatMessage, 'room' | 'seq'>): boolean {
    const current = this.#last.get(message.room);
    if (current !== undefined && message.seq <= current) return false;
    this.#last.set(message.room, message.seq);
    return true;
  }
}
