/**
 * File transfers: REST, RETR, STOR, APPE, STOU, and ALLO. REST's offset is kept by the session
 * state until the transfer after it takes it (`takeRestart`); RETR checks it against the file's
 * size here, uploads against the partial or the file they continue (session-state.ts, `uploadStart`).
 */
import type { FileHandle } from 'node:fs/promises';
import { FtpReplyError, replyForFsError } from '../files.js';
import { quotaRefusal } from '../protocol/replies.js';
import type { UploadMode } from '../protocol/session-state.js';
import type { FtpSession, VirtualTarget } from '../session.js';
import { sendFile } from '../transfer.js';
import type { CommandHandlers } from './handler.js';
import { abandonUpload, planUpload, receiveUpload, type UploadPlan } from './upload.js';

export const transferCommands = {
  REST: (session, { argument }) => session.replyWith(session.state.restart(argument)),
  RETR: (session, { argument }) => retrieve(session, argument),
  STOR: (session, { argument }) => upload(session, 'stor', argument),
  APPE: (session, { argument }) => upload(session, 'appe', argument),
  STOU: (session, { argument }) => upload(session, 'stou', argument),
  ALLO: async (session, { argument }) => {
    const bytes = Number(argument.trim().split(/\s+/)[0]);
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new FtpReplyError(501, 'Syntax: ALLO <bytes>.');
    const account = session.state.account;
    if (account === undefined) return session.reply(202, 'No storage allocation necessary.');
    const usage = await session.ctx.store.quota.usage(account);
    if (bytes > usage.freeBytes) throw new FtpReplyError(552, `${quotaRefusal(bytes, usage.freeBytes, usage.quotaBytes)}.`);
    session.reply(200, `ALLO ok: ${usage.freeBytes} bytes free.`);
  },
} satisfies CommandHandlers;

async function retrieve(session: FtpSession, argument: string): Promise<void> {
  const v = session.path(argument);
  const home = session.homeOrThrow();
  const entry = await home.existing(v.segments, v.path);
  if (!entry.stats.isFile()) throw new FtpReplyError(550, `${v.path}: not a plain file.`);
  const offset = session.state.takeRestart();
  const size = entry.stats.size;
  if (offset > size) throw new FtpReplyError(554, `Invalid REST parameter: ${v.path} has ${size} bytes.`);
  session.checkData();
  let handle: FileHandle;
  try {
    handle = await home.openForReading(entry.real);
  } catch (error) {
    throw replyForFsError(error, v.path);
  }
  const ascii = session.state.type === 'ascii';
  const opening = `Opening ${ascii ? 'ASCII' : 'BINARY'} mode data connection for ${v.path} (${size - offset} bytes).`;
  session.startTransfer(
    { verb: 'RETR', path: v.path, size, direction: 'outgoing', opening },
    async (socket, transfer) => {
      try {
        await sendFile(handle, socket, { start: offset, ascii, chunkBytes: session.ctx.config.retrChunkBytes, signal: transfer.controller.signal, progress: transfer.progress });
      } finally {
        await handle.close().catch(() => {});
      }
      return 'Transfer complete.';
    },
    () => handle.close(),
  );
}

/** STOU: the name asked for, or with `.1`, `.2`, ... after it, that nothing (no file, partial or upload) has. */
async function uniqueTarget(session: FtpSession, argument: string): Promise<VirtualTarget> {
  const base = argument.trim() || 'file';
  const home = session.homeOrThrow();
  for (let i = 0; i < 1000; i++) {
    const v = session.path(i === 0 ? base : `${base}.${i}`);
    const target = await home.creatable(v.segments, v.path);
    const partial = await home.statIfPresent(home.partialOf(target));
    if (!target.existing && !partial && !session.ctx.uploadLocks.has(target.real)) return v;
  }
  throw new FtpReplyError(553, 'Could not find a unique name.');
}

async function upload(session: FtpSession, mode: UploadMode, argument: string): Promise<void> {
  const home = session.requireWritable();
  const v = mode === 'stou' ? await uniqueTarget(session, argument) : session.path(argument);
  const target = await home.creatable(v.segments, v.path);
  if (target.existing && !target.existing.isFile()) throw new FtpReplyError(550, `${v.path}: ${target.existing.isDirectory() ? 'is a folder' : 'not a plain file'}.`);
  const rest = session.state.takeRestart();
  session.checkData();
  const locks = session.ctx.uploadLocks;
  if (locks.has(target.real)) throw new FtpReplyError(450, `${v.path}: another upload of this file is in progress; try again later.`);
  locks.add(target.real);
  let plan: UploadPlan;
  try {
    plan = await planUpload(session, target, mode, rest, v.path);
  } catch (error) {
    locks.delete(target.real);
    throw error;
  }
  const type = session.state.type === 'ascii' ? 'ASCII' : 'BINARY';
  const opening =
    mode === 'stou'
      ? `FILE: ${target.name}`
      : plan.start > 0
        ? `Opening ${type} mode data connection for ${v.path}, resuming at ${plan.start}.`
        : `Opening ${type} mode data connection for ${v.path}.`;
  session.startTransfer(
    { verb: mode.toUpperCase(), path: v.path, direction: 'incoming', opening },
    (socket, transfer) => receiveUpload(session, plan, socket, transfer, mode, v.path),
    () => abandonUpload(session, plan),
  );
}
