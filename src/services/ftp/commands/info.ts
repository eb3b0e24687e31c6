/** Commands about the session itself: NOOP, SYST, FEAT, HELP, OPTS, CLNT, ACCT, TYPE, MODE, STRU, STAT, ABOR. */
import { featureLines, helpLines, knownCommand, printable } from '../protocol/commands.js';
import { hashAlgorithmNamed } from '../protocol/hash.js';
import { formatListLine, parseMlstOpts, splitListArgument } from '../protocol/listing.js';
import { quotePath } from '../protocol/replies.js';
import type { FtpSession } from '../session.js';
import type { CommandHandlers } from './handler.js';
import { entriesFor } from './listing.js';

export const infoCommands = {
  NOOP: (session) => session.reply(200, 'NOOP ok.'),
  SYST: (session) => session.reply(215, 'UNIX Type: L8'),
  FEAT: (session) => {
    const { facts, hashAlgorithm } = session.state;
    session.reply(211, featureLines({ tls: session.ctx.secureContext !== undefined, facts, hash: hashAlgorithm }));
  },
  HELP: (session, { argument }) => {
    const verb = argument.trim().toUpperCase();
    if (verb === '') return session.reply(214, helpLines());
    const known = knownCommand(verb);
    if (!known) return session.reply(501, `Unknown command "${printable(verb)}".`);
    session.reply(214, `Syntax: ${known.syntax}.`);
  },
  OPTS: (session, { argument }) => opts(session, argument),
  CLNT: (session) => session.reply(200, 'Noted.'),
  ACCT: (session) => session.reply(202, 'ACCT is not needed on this server.'),
  TYPE: (session, { argument }) => type(session, argument),
  MODE: (session, { argument }) => only(session, argument, 'S', ['B', 'C'], 'Mode set to S.'),
  STRU: (session, { argument }) => only(session, argument, 'F', ['R', 'P'], 'Structure set to F.'),
  STAT: (session, { argument }) => stat(session, argument),
  ABOR: (session) => {
    const transfer = session.transfer;
    if (!transfer) {
      session.closeData();
      return session.reply(225, 'No transfer to abort.');
    }
    transfer.aborReplyOwed = true;
    transfer.abort('abor');
  },
} satisfies CommandHandlers;

function opts(session: FtpSession, argument: string): void {
  const [option = '', ...words] = argument.trim().split(/\s+/);
  const rest = words.join(' ');
  const name = option.toUpperCase();
  const state = session.state;
  if (name === 'UTF8' || name === 'UTF-8') return session.reply(200, 'Always in UTF8 mode.');
  if (name === 'MLST') {
    state.facts = parseMlstOpts(rest);
    return session.reply(200, `MLST OPTS ${state.facts.map((f) => `${f};`).join('')}`);
  }
  if (name !== 'HASH') return session.reply(501, `Option "${printable(option)}" not understood.`);
  // HASH (draft-bryan-ftpext-hash): which digest HASH answers.
  if (rest.trim() === '') return session.reply(200, state.hashAlgorithm);
  const algorithm = hashAlgorithmNamed(rest);
  if (!algorithm) return session.reply(504, 'Unknown algorithm, current selection not changed.');
  state.hashAlgorithm = algorithm;
  session.reply(200, algorithm);
}

function type(session: FtpSession, argument: string): void {
  const [kind, format] = argument.trim().toUpperCase().split(/\s+/);
  if (kind === 'A' && (format === undefined || format === 'N')) {
    session.state.type = 'ascii';
    return session.reply(200, 'Switching to ASCII mode.');
  }
  if (kind === 'I' || (kind === 'L' && format === '8')) {
    session.state.type = 'binary';
    return session.reply(200, 'Switching to Binary mode.');
  }
  if (kind === 'A' || kind === 'E' || kind === 'L') return session.reply(504, `TYPE ${printable(argument)} is not supported.`);
  session.reply(501, 'Syntax: TYPE A|I.');
}

function only(session: FtpSession, argument: string, accepted: string, known: string[], ok: string): void {
  const value = argument.trim().toUpperCase();
  if (value === accepted) return session.reply(200, ok);
  if (known.includes(value)) return session.reply(504, `${value} is not supported.`);
  session.reply(501, `Syntax error in "${printable(argument)}".`);
}

async function stat(session: FtpSession, argument: string): Promise<void> {
  const transfer = session.transfer;
  if (transfer) {
    const of = transfer.size !== undefined ? ` of ${transfer.size}` : '';
    return session.reply(213, `Status: ${transfer.verb} ${transfer.path}, ${transfer.progress.bytes}${of} bytes transferred.`);
  }
  const state = session.state;
  if (argument.trim() === '') {
    return session.reply(211, [
      'wharf FTP server status:',
      `Connected from ${session.ip}`,
      state.loggedIn ? `Logged in as ${session.user ?? ''}` : 'Not logged in',
      `TYPE: ${state.type === 'ascii' ? 'ASCII' : 'BINARY'}; STRUcture: File; MODE: Stream`,
      `Control connection: ${session.state.secure ? 'TLS' : 'plain'}; data connections: ${state.protectData ? 'TLS' : 'plain'}`,
      `Data connection: ${session.dataKind ?? 'none set up'}`,
      `Sessions open: ${session.ctx.sessions.size}`,
      'End of status',
    ]);
  }
  if (!state.loggedIn) return session.reply(530, 'Please log in with USER and PASS first.');
  const v = session.path(splitListArgument(argument).path || '.');
  const entries = await entriesFor(session, v, 'LIST');
  const now = new Date();
  session.reply(213, [`Status of ${quotePath(v.path)}:`, ...entries.map((e) => formatListLine(e, now)), 'End of status.']);
}
