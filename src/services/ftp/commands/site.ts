/** SITE: REGISTER (self-registration), QUOTA, CHMOD, HELP. */
import { WharfError } from '../../../core/errors.js';
import { FtpReplyError } from '../files.js';
import { printable } from '../protocol/commands.js';
import type { FtpSession } from '../session.js';
import type { CommandHandlers } from './handler.js';

const SITE_HELP = [
  'SITE commands:',
  'SITE REGISTER <name> <password>  create an account (when self-registration is on)',
  'SITE QUOTA                       your storage quota and use',
  'SITE CHMOD <mode> <path>         set permission bits (the owner keeps read and write)',
  'End of SITE help.',
];

export const siteCommands = {
  SITE: (session, { argument }) => site(session, argument),
} satisfies CommandHandlers;

async function site(session: FtpSession, argument: string): Promise<void> {
  const trimmed = argument.trim();
  const space = trimmed.indexOf(' ');
  const sub = (space === -1 ? trimmed : trimmed.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : trimmed.slice(space + 1).trim();
  switch (sub) {
    case 'HELP':
      return session.reply(214, SITE_HELP);
    case 'REGISTER':
      return register(session, rest);
    case 'QUOTA':
      return quota(session);
    case 'CHMOD':
      return chmod(session, rest);
    default:
      return session.reply(500, `Unknown SITE command "${printable(sub)}" (try SITE HELP).`);
  }
}

async function register(session: FtpSession, rest: string): Promise<void> {
  const space = rest.indexOf(' ');
  if (space === -1) return session.reply(501, 'Syntax: SITE REGISTER <name> <password>.');
  const name = rest.slice(0, space);
  const password = rest.slice(space + 1);
  if (session.ctx.config.requireTls && !session.state.secure) return session.reply(530, 'This server requires encryption for passwords: send AUTH TLS first.');
  try {
    const account = await session.ctx.store.accounts.register(name, password, session.ip);
    session.reply(200, `Account "${account.name}" created; log in with USER ${account.name}.`);
  } catch (error) {
    if (error instanceof WharfError) {
      if (error.code === 'ETAKEN') return session.reply(550, `The name "${printable(name)}" is taken.`);
      if (error.code === 'EFORBIDDEN') return session.reply(550, 'Self-registration is turned off on this server; ask an administrator for an account.');
      if (error.code === 'ETHROTTLED') return session.reply(450, 'Too many registrations from your address; try again later.');
      if (error.code === 'EBADVALUE') return session.reply(501, error.message);
    }
    throw error;
  }
}

async function quota(session: FtpSession): Promise<void> {
  if (!session.state.loggedIn) return session.reply(530, 'Please log in with USER and PASS first.');
  const account = session.state.account;
  if (account === undefined) return session.reply(200, 'Quota: anonymous access has no quota (read-only).');
  const usage = await session.ctx.store.quota.usage(account);
  session.reply(200, `Quota: used=${usage.bytesUsed} quota=${usage.quotaBytes} free=${usage.freeBytes}`);
}

async function chmod(session: FtpSession, rest: string): Promise<void> {
  if (!session.state.loggedIn) return session.reply(530, 'Please log in with USER and PASS first.');
  const home = session.requireWritable();
  const match = /^([0-7]{3,4})\s+(.+)$/.exec(rest);
  if (!match) throw new FtpReplyError(501, 'Syntax: SITE CHMOD <mode> <path>.');
  const v = session.path(match[2] as string);
  const entry = await home.existing(v.segments, v.path);
  const bits = Number.parseInt(match[1] as string, 8) & 0o777;
  await home.setMode(entry.real, bits | (entry.stats.isDirectory() ? 0o700 : 0o600));
  session.reply(200, 'SITE CHMOD command ok.');
}
