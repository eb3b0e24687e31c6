/** The shape of a command handler (pyftpdlib's `ftp_VERB`), and what the handlers pass between them. */
import type { NewEntry } from '../files.js';
import type { FtpVerb } from '../protocol/commands.js';
import type { Admission } from '../protocol/session-state.js';
import type { FtpSession, VirtualTarget } from '../session.js';

/** What RNFR found, for the RNTO after it. */
export interface RenameSource extends VirtualTarget {
  entry: NewEntry;
}

/** A command the session state let through, with what RNFR and RANG left for it. */
export type AdmittedCommand = Extract<Admission<RenameSource>, { kind: 'run' }>;

/**
 * Runs one command: replies (or throws an FtpReplyError, a WharfError or an errno error, which
 * the session turns into the reply). A transfer starts with `session.startTransfer` and returns.
 */
export type CommandHandler = (session: FtpSession, command: AdmittedCommand) => void | Promise<void>;

/** One concern's handlers; commands/index.ts joins them into the table that must cover every verb. */
export type CommandHandlers = Partial<Record<FtpVerb, CommandHandler>>;
