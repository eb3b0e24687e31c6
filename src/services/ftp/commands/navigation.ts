/** Folders: PWD, CWD, CDUP, MKD, RMD (and their RFC 775 aliases, by the command table). */
import { join } from 'node:path';
import { FtpReplyError, replyForFsError } from '../files.js';
import { isInternalName } from '../protocol/paths.js';
import { quotePath } from '../protocol/replies.js';
import type { FtpSession } from '../session.js';
import type { CommandHandlers } from './handler.js';

export const navigationCommands = {
  PWD: (session) => session.reply(257, `${quotePath(session.state.cwd)} is the current directory.`),
  CWD: async (session, { argument }) => {
    const v = session.path(argument);
    const entry = await session.homeOrThrow().existing(v.segments, v.path);
    if (!entry.stats.isDirectory()) throw new FtpReplyError(550, `${v.path}: not a folder.`);
    session.state.cwd = v.path;
    session.reply(250, `Directory changed to ${quotePath(v.path)}.`);
  },
  CDUP: (session) => {
    session.state.cdup();
    session.reply(250, `Directory changed to ${quotePath(session.state.cwd)}.`);
  },
  MKD: async (session, { argument }) => {
    const home = session.requireWritable();
    const v = session.path(argument);
    const target = await home.creatable(v.segments, v.path);
    if (target.existing) throw new FtpReplyError(550, `${v.path}: already exists.`);
    try {
      await home.makeFolder(target.real);
    } catch (error) {
      throw replyForFsError(error, v.path);
    }
    session.reply(257, `${quotePath(v.path)} created.`);
  },
  RMD: (session, { argument }) => removeFolder(session, argument),
} satisfies CommandHandlers;

async function removeFolder(session: FtpSession, argument: string): Promise<void> {
  const home = session.requireWritable();
  const v = session.path(argument);
  const target = await home.creatable(v.segments, v.path);
  if (!target.existing) throw new FtpReplyError(550, `${v.path}: no such folder.`);
  if (!target.existing.isDirectory()) throw new FtpReplyError(550, `${v.path}: not a folder.`);
  // The server's own files (interrupted uploads) do not keep a folder the user sees as empty.
  const names = await home.names(target.real);
  if (names.some((name) => !isInternalName(name))) throw new FtpReplyError(550, `${v.path}: the folder is not empty.`);
  for (const name of names) {
    const path = join(target.real, name);
    const stats = await home.statIfPresent(path);
    if (stats?.isFile()) {
      await home.removeFile(path);
      await session.release(stats.size);
    }
  }
  try {
    await home.removeFolder(target.real);
  } catch (error) {
    throw replyForFsError(error, v.path);
  }
  session.reply(250, `${quotePath(v.path)} removed.`);
}
