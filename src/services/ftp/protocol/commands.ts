/**
 * FTP commands, pure: a command line's Telnet controls, its verb and argument, the text a reply may
 * echo, and what each verb needs before it runs (the table the session's handlers are keyed by).
 */
import { MLST_FACTS } from './listing.js';
import { DEFAULT_HASH, HASH_ALGORITHMS, type HashAlgorithm } from './hash.js';

const IAC = 0xff;

/** The longest command line the server accepts (RFC 959 sets no limit; 4 KiB is generous). */
export const DEFAULT_MAX_COMMAND_BYTES = 4096;

/**
 * Removes Telnet commands (IAC followed by a command byte, IAC IAC meaning a literal 0xFF is not
 * used in UTF-8 text) and the Data Mark a client sends with ABOR (RFC 959 §4.1.3: IAC IP, IAC DM).
 */
export function stripTelnet(line: Uint8Array): Uint8Array {
  if (!line.includes(IAC) && line[0] !== 0xf2) return line;
  const out: number[] = [];
  for (let i = 0; i < line.length; i++) {
    const byte = line[i] as number;
    if (byte === IAC) {
      const next = line[i + 1];
      if (next === IAC) {
        out.push(IAC);
        i++;
      } else if (next !== undefined && next >= 0xf0) {
        i++;
      }
      continue;
    }
    // A Data Mark delivered in line (when the urgent byte was not pulled out of band).
    if (byte === 0xf2 && out.length === 0) continue;
    out.push(byte);
  }
  return Uint8Array.from(out);
}

export interface ParsedCommand {
  /** Upper case, e.g. `RETR`. */
  verb: string;
  /** Everything after the first space, as sent (file names may contain spaces); '' when absent. */
  argument: string;
}

export type CommandParse = { ok: true; command: ParsedCommand } | { ok: false; code: number; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One command line → verb and argument. RFC 2640: the text is UTF-8 (invalid sequences are
 * refused rather than guessed at, so an overlong `..` never reaches path code). NUL, CR and LF
 * cannot appear in an argument.
 */
export function parseCommand(line: Uint8Array): CommandParse {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { ok: false, code: 501, message: 'Command is not valid UTF-8.' };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000\r\n]/.test(text)) return { ok: false, code: 501, message: 'Command contains a NUL or line-break character.' };
  const space = text.indexOf(' ');
  const verb = (space === -1 ? text : text.slice(0, space)).toUpperCase();
  const argument = space === -1 ? '' : text.slice(space + 1);
  if (!/^[A-Z]{3,4}$/.test(verb)) return { ok: false, code: 500, message: `Syntax error, command unrecognized: ${printable(verb)}.` };
  return { ok: true, command: { verb, argument } };
}

/** Text safe to echo back in a reply: printable, short. */
export function printable(text: string, max = 40): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** What a command needs before it runs (pyftpdlib's `proto_cmds`); the session's handlers are keyed by the same verbs. */
export interface CommandRule {
  /** Needs a logged-in user (530 otherwise). */
  login: boolean;
  /** Syntax for HELP and for the 501 of a missing argument. */
  syntax: string;
  /** Handled while a transfer is running (everything else waits for it to finish). */
  duringTransfer?: boolean;
  /** Argument required (501 when missing). */
  argument: 'required' | 'none' | 'optional';
  /** Other spellings of the verb, run by the same handler (RFC 775's X-commands, which some old clients still send). */
  aliases?: readonly string[];
}

/**
 * Every verb the server answers and what it needs. `FtpVerb` is this table's keys: the session's
 * handler table must have exactly these (commands/index.ts), so a verb without a handler does not
 * compile.
 */
export const COMMANDS = {
  ABOR: { login: false, syntax: 'ABOR (abort the transfer in progress)', duringTransfer: true, argument: 'none' },
  ACCT: { login: false, syntax: 'ACCT <account> (not needed here)', argument: 'required' },
  ALLO: { login: true, syntax: 'ALLO <bytes> (check there is room for a file)', argument: 'required' },
  APPE: { login: true, syntax: 'APPE <path> (append, or resume an interrupted upload)', argument: 'required' },
  AUTH: { login: false, syntax: 'AUTH TLS (secure the control connection)', argument: 'required' },
  CDUP: { login: true, syntax: 'CDUP (go to the parent folder)', argument: 'none', aliases: ['XCUP'] },
  CLNT: { login: false, syntax: 'CLNT <client name>', argument: 'optional' },
  CWD: { login: true, syntax: 'CWD <path>', argument: 'required', aliases: ['XCWD'] },
  DELE: { login: true, syntax: 'DELE <path>', argument: 'required' },
  EPRT: { login: true, syntax: 'EPRT |<af>|<address>|<port>|', argument: 'required' },
  EPSV: { login: true, syntax: 'EPSV [1|2|ALL]', argument: 'optional' },
  FEAT: { login: false, syntax: 'FEAT (list extensions)', argument: 'none' },
  HASH: { login: true, syntax: 'HASH <path> (digest of the file, or of the RANG range, with the OPTS HASH algorithm)', argument: 'required' },
  HELP: { login: false, syntax: 'HELP [<command>]', argument: 'optional' },
  LIST: { login: true, syntax: 'LIST [<path>] (ls -l style listing)', argument: 'optional' },
  MDTM: { login: true, syntax: 'MDTM <path> (modification time)', argument: 'required' },
  MFMT: { login: true, syntax: 'MFMT <YYYYMMDDHHMMSS> <path> (set modification time)', argument: 'required' },
  MKD: { login: true, syntax: 'MKD <path>', argument: 'required', aliases: ['XMKD'] },
  MLSD: { login: true, syntax: 'MLSD [<path>] (machine listing of a folder)', argument: 'optional' },
  MLST: { login: true, syntax: 'MLST [<path>] (machine facts about one entry)', argument: 'optional' },
  MODE: { login: false, syntax: 'MODE S', argument: 'required' },
  NLST: { login: true, syntax: 'NLST [<path>] (names only)', argument: 'optional' },
  NOOP: { login: false, syntax: 'NOOP', duringTransfer: true, argument: 'optional' },
  OPTS: { login: false, syntax: 'OPTS UTF8 ON | OPTS MLST <facts> | OPTS HASH [<algorithm>]', argument: 'required' },
  PASS: { login: false, syntax: 'PASS <password>', argument: 'optional' },
  PASV: { login: true, syntax: 'PASV (passive mode, IPv4)', argument: 'none' },
  PBSZ: { login: false, syntax: 'PBSZ 0', argument: 'required' },
  PORT: { login: true, syntax: 'PORT h1,h2,h3,h4,p1,p2', argument: 'required' },
  PROT: { login: false, syntax: 'PROT P|C', argument: 'required' },
  PWD: { login: true, syntax: 'PWD', argument: 'none', aliases: ['XPWD'] },
  QUIT: { login: false, syntax: 'QUIT', duringTransfer: true, argument: 'none' },
  RANG: { login: true, syntax: 'RANG <start> <end> (byte range for the next HASH; RANG 1 0 clears it)', argument: 'required' },
  REIN: { login: false, syntax: 'REIN (log out, keep the connection)', argument: 'none' },
  REST: { login: true, syntax: 'REST <offset> (resume the next RETR/STOR there)', argument: 'required' },
  RETR: { login: true, syntax: 'RETR <path>', argument: 'required' },
  RMD: { login: true, syntax: 'RMD <path>', argument: 'required', aliases: ['XRMD'] },
  RNFR: { login: true, syntax: 'RNFR <path>', argument: 'required' },
  RNTO: { login: true, syntax: 'RNTO <path>', argument: 'required' },
  SITE: { login: false, syntax: 'SITE REGISTER <name> <password> | SITE QUOTA | SITE CHMOD <mode> <path> | SITE HELP', argument: 'required' },
  SIZE: { login: true, syntax: 'SIZE <path>', argument: 'required' },
  STAT: { login: false, syntax: 'STAT [<path>]', duringTransfer: true, argument: 'optional' },
  STOR: { login: true, syntax: 'STOR <path>', argument: 'required' },
  STOU: { login: true, syntax: 'STOU [<name>] (store under a unique name)', argument: 'optional' },
  STRU: { login: false, syntax: 'STRU F', argument: 'required' },
  SYST: { login: false, syntax: 'SYST', argument: 'none' },
  TYPE: { login: false, syntax: 'TYPE A|I', argument: 'required' },
  USER: { login: false, syntax: 'USER <name>', argument: 'required' },
} as const satisfies Record<string, CommandRule>;

/** A verb the server answers, in its canonical spelling. */
export type FtpVerb = keyof typeof COMMANDS;

/** A command's canonical verb and rule, aliases resolved. */
export interface KnownCommand {
  verb: FtpVerb;
  rule: CommandRule;
  /** The syntax for HELP: an alias names the verb it stands for (`XPWD (= PWD)`). */
  syntax: string;
}

const KNOWN = new Map<string, KnownCommand>();
for (const [verb, rule] of Object.entries(COMMANDS) as [FtpVerb, CommandRule][]) {
  KNOWN.set(verb, { verb, rule, syntax: rule.syntax });
  for (const alias of rule.aliases ?? []) {
    KNOWN.set(alias, { verb, rule, syntax: `${alias}${rule.argument === 'required' ? ' <path>' : ''} (= ${verb})` });
  }
}

/** The command a received verb (upper case) names, aliases included; undefined for one the server does not know. */
export function knownCommand(verb: string): KnownCommand | undefined {
  return KNOWN.get(verb);
}

/** The 214 reply to HELP: every command, eight to a line. */
export function helpLines(): string[] {
  const verbs = [...KNOWN.keys()].sort();
  const lines = ['The following commands are recognized:'];
  for (let i = 0; i < verbs.length; i += 8) lines.push(verbs.slice(i, i + 8).map((v) => v.padEnd(5)).join(' ').trimEnd());
  lines.push('Help OK.');
  return lines;
}

/** The 211 reply to FEAT (RFC 2389): one feature per line, each after a space; `*` marks the MLST facts in use. */
export function featureLines(options: { tls: boolean; facts?: readonly string[]; hash?: HashAlgorithm }): string[] {
  const selected = new Set(options.facts ?? MLST_FACTS);
  const hash = options.hash ?? DEFAULT_HASH;
  const features = [
    ...(options.tls ? ['AUTH TLS', 'PBSZ', 'PROT'] : []),
    'EPRT',
    'EPSV',
    `HASH ${HASH_ALGORITHMS.map((name) => `${name}${name === hash ? '*' : ''}`).join(';')}`,
    'MDTM',
    'MFMT',
    `MLST ${MLST_FACTS.map((fact) => `${fact}${selected.has(fact) ? '*' : ''};`).join('')}`,
    'REST STREAM',
    'SIZE',
    'TVFS',
    'UTF8',
  ];
  return ['Features:', ...features.map((feature) => ` ${feature}`), 'End'];
}
