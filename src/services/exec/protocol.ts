/**
 * The exec service's pure parts: the command templates of the configuration and how a caller's
 * arguments become an argv (never a shell line), wharf's framed messages, and the seed's
 * `Ready|N` / `Start` handshake. No I/O here: everything is tested byte by byte.
 */

/** A typed parameter: one argv element, checked before anything runs. */
export type ParameterType =
  | { kind: 'int'; min: number; max: number }
  /** Letters, digits, `.`, `_`, `-`, `/`, `:`, `@`, `+`, `=`, `,`; never a leading `-`. */
  | { kind: 'word' }
  /** Any text without NUL or a line break, never a leading `-`; it still arrives as one argv element. */
  | { kind: 'text' }
  | { kind: 'choice'; values: readonly string[] };

export interface Parameter {
  name: string;
  type: ParameterType;
}

export type TemplatePart = { literal: string } | { parameter: Parameter };

export interface CommandSpec {
  argv: readonly string[];
  /** Account names, `@admin` (every administrator) or `@group` (a group of the configuration). */
  allow: readonly string[];
  /** Open to the seed protocol, which has no login: anyone who reaches the port may run it. */
  seed: boolean;
  description?: string;
}

export interface CompiledCommand {
  name: string;
  parts: readonly TemplatePart[];
  parameters: readonly Parameter[];
  allow: readonly string[];
  seed: boolean;
  description: string;
}

/** The longest argument a caller may pass, in UTF-8 bytes: argv is not a place for files. */
export const MAX_ARGUMENT_BYTES = 4096;
/** The most arguments one request may carry. */
export const MAX_ARGUMENTS = 64;
const COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const WORD = /^[A-Za-z0-9._/:@+=,][A-Za-z0-9._/:@+=,-]*$/;
const PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*):(int|word|text|choice)(?: (.+))?\}$/;

/** `{lines:int 1..1000}`, `{name:word}`, `{pattern:text}`, `{unit:choice nginx|postgres}` → a parameter. */
export function parsePlaceholder(element: string): Parameter | undefined {
  const match = PLACEHOLDER.exec(element);
  if (!match) return undefined;
  const [, name = '', kind, rest] = match;
  if (kind === 'int') {
    const range = /^(-?\d{1,15})\.\.(-?\d{1,15})$/.exec(rest ?? '');
    if (!range) throw new Error(`${element}: an int parameter needs its range, e.g. {${name}:int 1..1000}`);
    const min = Number(range[1]);
    const max = Number(range[2]);
    if (min > max) throw new Error(`${element}: the range is empty`);
    return { name, type: { kind: 'int', min, max } };
  }
  if (kind === 'choice') {
    const values = (rest ?? '').split('|');
    if (rest === undefined || values.some((value) => !WORD.test(value))) throw new Error(`${element}: a choice lists words separated by |, e.g. {${name}:choice nginx|postgres}`);
    return { name, type: { kind: 'choice', values } };
  }
  if (rest !== undefined) throw new Error(`${element}: a ${kind} parameter takes no options`);
  return { name, type: { kind: kind === 'word' ? 'word' : 'text' } };
}

/** Check one command of the configuration; throws a sentence naming what is wrong. */
export function compileCommand(name: string, spec: CommandSpec): CompiledCommand {
  if (!COMMAND_NAME.test(name)) throw new Error(`command name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' (at most 64)`);
  if (spec.argv.length === 0 || spec.argv[0] === '') throw new Error(`command ${name}: argv is empty`);
  const parts: TemplatePart[] = [];
  const parameters: Parameter[] = [];
  spec.argv.forEach((element, index) => {
    if (element.includes('\0')) throw new Error(`command ${name}: argv element ${index} holds a NUL byte`);
    const parameter = element.startsWith('{') ? parsePlaceholder(element) : undefined;
    if (parameter === undefined) {
      parts.push({ literal: element });
      return;
    }
    if (index === 0) throw new Error(`command ${name}: the program itself cannot be a parameter`);
    if (parameters.some((p) => p.name === parameter.name)) throw new Error(`command ${name}: parameter ${parameter.name} appears twice`);
    parts.push({ parameter });
    parameters.push(parameter);
  });
  return { name, parts, parameters, allow: spec.allow, seed: spec.seed, description: spec.description ?? spec.argv.join(' ') };
}

/** Why one argument does not fit its parameter, or undefined when it does. */
export function argumentProblem(parameter: Parameter, value: string): string | undefined {
  const { type } = parameter;
  if (Buffer.byteLength(value) > MAX_ARGUMENT_BYTES) return `${parameter.name}: longer than ${MAX_ARGUMENT_BYTES} bytes`;
  switch (type.kind) {
    case 'int': {
      if (!/^-?\d{1,15}$/.test(value)) return `${parameter.name}: expected a whole number from ${type.min} to ${type.max}`;
      const n = Number(value);
      return n < type.min || n > type.max ? `${parameter.name}: ${n} is outside ${type.min}..${type.max}` : undefined;
    }
    case 'word':
      return WORD.test(value) ? undefined : `${parameter.name}: expected a word (letters, digits, . _ / : @ + = , -; not starting with -)`;
    case 'choice':
      return type.values.includes(value) ? undefined : `${parameter.name}: expected one of ${type.values.join(', ')}`;
    case 'text':
      if (value === '' || value.startsWith('-')) return `${parameter.name}: must not be empty or start with -`;
      return /[\0\r\n]/.test(value) ? `${parameter.name}: must not hold NUL or a line break` : undefined;
  }
}

export type BindResult = { ok: true; argv: string[] } | { ok: false; message: string };

/** The caller's arguments, one per parameter in template order, into the argv to execute. */
export function bindArguments(command: CompiledCommand, args: readonly string[]): BindResult {
  const wanted = command.parameters.length;
  if (args.length !== wanted) {
    const names = command.parameters.map((p) => p.name).join(' ');
    return { ok: false, message: `${command.name} takes ${wanted} argument${wanted === 1 ? '' : 's'}${wanted > 0 ? ` (${names})` : ''}, got ${args.length}` };
  }
  for (const [index, parameter] of command.parameters.entries()) {
    const problem = argumentProblem(parameter, args[index] ?? '');
    if (problem !== undefined) return { ok: false, message: problem };
  }
  let next = 0;
  const argv = command.parts.map((part) => ('literal' in part ? part.literal : (args[next++] ?? '')));
  return { ok: true, argv };
}

/** How a command is shown to a caller: `log {lines:int 1..1000}`. */
export function usageOf(command: CompiledCommand): string {
  const shown = command.parameters.map((p) => {
    const t = p.type;
    const detail = t.kind === 'int' ? ` ${t.min}..${t.max}` : t.kind === 'choice' ? ` ${t.values.join('|')}` : '';
    return `{${p.name}:${t.kind}${detail}}`;
  });
  return [command.name, ...shown].join(' ');
}

/** Whether the account may run the command: by name, `@admin`, or a `@group` it belongs to. */
export function mayRun(command: CompiledCommand, account: { name: string; role: string }, groups: Readonly<Record<string, readonly string[]>>): boolean {
  return command.allow.some((entry) => {
    if (!entry.startsWith('@')) return entry === account.name;
    const group = entry.slice(1);
    if (group === 'admin') return account.role === 'admin';
    return groups[group]?.includes(account.name) ?? false;
  });
}

// ---------------------------------------------------------------------------------------------
// wharf's protocol: every frame is a 4-byte big-endian length, then a body whose first byte is
// its kind. A control body is JSON; an output body is raw bytes, as the process wrote them.

export const FRAME_CONTROL = 0;
export const FRAME_STDOUT = 1;
export const FRAME_STDERR = 2;
/** Longest frame a client may send (a login, a request): nothing it sends needs more. */
export const MAX_REQUEST_FRAME_BYTES = 64 * 1024;
/** Longest frame the server sends: an output chunk, or a long list / history. */
export const MAX_REPLY_FRAME_BYTES = 4 * 1024 * 1024;

export type ClientMessage =
  | { t: 'login'; user: string; password: string }
  | { t: 'list' }
  | { t: 'run'; command: string; args: string[] }
  | { t: 'cancel' }
  | { t: 'history'; limit: number };

/** Why a run ended other than by itself. */
export type EndReason = 'timeout' | 'output-limit' | 'cancelled' | 'disconnected' | 'server-stopping';

export interface ExitStatus {
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  signal: string | null;
  reason?: EndReason;
  durationMs: number;
  bytesOut: number;
}

export interface CommandInfo {
  name: string;
  usage: string;
  description: string;
}

export interface HistoryRow {
  startedAt: number;
  account: string | null;
  address: string;
  command: string;
  args: string[];
  code: number | null;
  signal: string | null;
  reason: string | null;
  durationMs: number;
  bytesOut: number;
}

export type ServerMessage =
  | { t: 'ok'; account: string }
  | { t: 'error'; code: ErrorCode; message: string }
  | { t: 'started'; command: string }
  | ({ t: 'exit' } & ExitStatus)
  | { t: 'commands'; commands: CommandInfo[] }
  | { t: 'history'; rows: HistoryRow[] };

export type ErrorCode = 'login-required' | 'login-failed' | 'not-allowed' | 'no-such-command' | 'bad-arguments' | 'busy' | 'bad-request' | 'spawn-failed';

/** A client's control frame body as a message, or a sentence saying why not. */
export function parseClientMessage(body: Buffer): ClientMessage | { error: string } {
  if (body[0] !== FRAME_CONTROL) return { error: 'a client sends control frames only' };
  let value: unknown;
  try {
    value = JSON.parse(body.subarray(1).toString('utf8'));
  } catch {
    return { error: 'a control frame holds one JSON object' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'a control frame holds one JSON object' };
  const m = value as Record<string, unknown>;
  switch (m.t) {
    case 'login':
      return typeof m.user === 'string' && typeof m.password === 'string' ? { t: 'login', user: m.user, password: m.password } : { error: 'login needs user and password' };
    case 'list':
    case 'cancel':
      return { t: m.t };
    case 'run': {
      const args = m.args ?? [];
      if (typeof m.command !== 'string' || !Array.isArray(args) || !args.every((a): a is string => typeof a === 'string')) return { error: 'run needs a command name and a list of string arguments' };
      if (args.length > MAX_ARGUMENTS) return { error: `at most ${MAX_ARGUMENTS} arguments` };
      return { t: 'run', command: m.command, args };
    }
    case 'history': {
      const limit = m.limit ?? 50;
      return typeof limit === 'number' && Number.isInteger(limit) && limit > 0 && limit <= 10_000 ? { t: 'history', limit } : { error: 'history limit: a whole number from 1 to 10000' };
    }
    default:
      return { error: `unknown message type ${JSON.stringify(m.t)}` };
  }
}

/** A frame body: the kind byte, then JSON for control messages or the bytes for output. */
export function controlBody(message: ClientMessage | ServerMessage): Buffer {
  return Buffer.concat([Buffer.from([FRAME_CONTROL]), Buffer.from(JSON.stringify(message))]);
}

/** What the first byte of a connection says it speaks: wharf's frames begin with a 0 length byte. */
export function sniffProtocol(firstByte: number): 'wharf' | 'seed' {
  return firstByte === 0 ? 'wharf' : 'seed';
}

// ---------------------------------------------------------------------------------------------
// The seed's handshake (seed 002 §3): a chunk is a command line; the answer is `Ready|N`, then
// after `Start` the N bytes of output, or `cmd error` in their place.

export const SEED_ERROR = Buffer.from('cmd error');
/** Longest command line a seed client may send; its own client reads 1024 bytes at a time. */
export const MAX_SEED_LINE_BYTES = 1024;

/** Split a seed line into words on spaces and tabs: no quotes, no expansion, never a shell. */
export function splitSeedLine(line: string): string[] {
  return line.split(/[ \t]+/).filter((word) => word !== '');
}

export function seedReady(output: Buffer): Buffer {
  return Buffer.from(`Ready|${output.length}`);
}

/** Whether a seed peer's address may use the seed protocol: `loopback`, `any`, or an exact IP. */
export function seedPeerAllowed(address: string, allowed: readonly string[]): boolean {
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return allowed.some((entry) => entry === 'any' || entry === ip || (entry === 'loopback' && isLoopbackAddress(ip)));
}

export function isLoopbackAddress(host: string): boolean {
  const ip = host.startsWith('::ffff:') ? host.slice(7) : host;
  return ip === '::1' || ip === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}
