/**
 * Uploads (STOR, APPE, STOU): where the bytes go and what happens to them when the upload ends
 * or is interrupted. See docs/ftp.md, "Uploads, partial files and resuming": an upload writes a
 * hidden working file and renames it over the name when complete; an interrupted one is kept as
 * the name's partial, which REST+STOR or APPE continue.
 */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WharfError } from '../../../core/errors.js';
import { FtpReplyError, replyForFsError, type Home, type NewEntry } from '../files.js';
import { uploadTempName } from '../protocol/paths.js';
import { uploadStart, type UploadMode, type UploadStart } from '../protocol/session-state.js';
import type { FtpSession, TransferState } from '../session.js';
import { UploadSink, receiveFile } from '../transfer.js';

/** Quota is reserved ahead of an upload's bytes in steps that start here and double up to the maximum. */
const RESERVE_STEP = 1024 * 1024;
const MAX_RESERVE_STEP = 32 * 1024 * 1024;

export interface UploadPlan {
  home: Home;
  target: NewEntry;
  /** The file being written: a fresh temporary file, or the partial being continued. */
  working: string;
  /** Where an interrupted upload's bytes are kept. */
  partial: string;
  kind: UploadStart['kind'];
  /** Offset of the first byte this upload writes. */
  start: number;
  handle: FileHandle;
  lockKey: string;
}

/** Opens the file the upload writes; the caller holds the upload lock of the target. */
export async function planUpload(session: FtpSession, target: NewEntry, mode: UploadMode, rest: number, display: string): Promise<UploadPlan> {
  const home = session.homeOrThrow();
  const partial = home.partialOf(target);
  const partialStats = await home.statIfPresent(partial);
  const partialSize = partialStats?.isFile() ? partialStats.size : undefined;
  const existingSize = target.existing?.isFile() ? target.existing.size : undefined;
  const planned = uploadStart(mode, rest, { partial: partialSize, file: existingSize });
  if ('code' in planned) throw new FtpReplyError(planned.code, `Invalid REST parameter: ${display} has ${planned.bytes} bytes to resume from.`);
  const { kind, start } = planned;
  const temp = join(target.parent, uploadTempName(randomBytes(8).toString('hex'), target.name, process.pid));
  session.ctx.workingFiles.add(temp);
  const plan = { home, target, partial, kind, start, lockKey: target.real };
  try {
    if (kind === 'fresh') {
      // A new upload from the start supersedes an interrupted one.
      if (partialSize !== undefined) {
        await home.removeFile(partial);
        await session.release(partialSize);
      }
      return { ...plan, working: temp, handle: await home.createFile(temp) };
    }
    if (kind === 'partial') {
      const handle = await home.openForWriting(partial);
      if (start < (partialSize as number)) {
        await handle.truncate(start);
        await session.release((partialSize as number) - start);
      }
      return { ...plan, working: partial, handle };
    }
    // Continue a complete file: work on a copy (a clone where the file system can), so readers
    // and an interruption never see the original half-appended.
    await session.reserve(start);
    try {
      await home.copyFile(target.real, temp);
      const handle = await home.openForWriting(temp);
      await handle.truncate(start);
      return { ...plan, working: temp, handle };
    } catch (error) {
      await home.removeFile(temp).catch(() => {});
      await session.release(start);
      throw error;
    }
  } catch (error) {
    session.ctx.workingFiles.delete(temp);
    if (error instanceof FtpReplyError || error instanceof WharfError) throw error;
    throw replyForFsError(error, display);
  }
}

/** The data connection never opened: the upload leaves nothing behind. */
export async function abandonUpload(session: FtpSession, plan: UploadPlan): Promise<void> {
  const home = plan.home;
  try {
    await plan.handle.close().catch(() => {});
    if (plan.kind === 'fresh') await home.removeFile(plan.working).catch(() => {});
    if (plan.kind === 'copy') {
      await home.removeFile(plan.working).catch(() => {});
      await session.release(plan.start);
    }
  } finally {
    session.ctx.workingFiles.delete(plan.working);
    session.ctx.uploadLocks.delete(plan.lockKey);
  }
}

/** Receives the bytes, then publishes the file; on failure keeps what is worth keeping (see the file's comment). */
export async function receiveUpload(session: FtpSession, plan: UploadPlan, socket: Duplex, transfer: TransferState, mode: UploadMode, display: string): Promise<string> {
  const home = plan.home;
  const sink = new UploadSink(plan.handle, {
    position: plan.start,
    quota: session.state.account === undefined ? undefined : { reserve: (bytes) => session.reserve(bytes) },
    reserveStep: RESERVE_STEP,
    maxReserveStep: MAX_RESERVE_STEP,
    progress: transfer.progress,
  });
  let handleOpen = true;
  try {
    await receiveFile(socket, sink, { ascii: session.state.type === 'ascii', signal: transfer.controller.signal });
    // A client killed mid-upload closes its data and control connections together, and the data
    // connection's end looks like a finished file. Let the event loop take one more turn, so that
    // a control connection closing at the same moment is seen and the upload kept as a partial.
    // (If it is missed, the file is published short; SIZE then APPE or REST+STOR still resume it.)
    await new Promise((resolve) => setImmediate(resolve));
    if (session.closed || session.peerEnded || transfer.abortReason) throw new WharfError('ECLOSED', 'the control connection closed during the upload');
    handleOpen = false;
    await plan.handle.close();
    const current = await home.statIfPresent(plan.target.real);
    if (current && !current.isFile()) throw new FtpReplyError(550, `${display}: something that is not a file appeared under this name.`);
    await home.move(plan.working, plan.target.real);
    // The previous version (if any) is gone: its bytes leave the quota.
    if (current) await session.release(current.size);
    return mode === 'stou' ? `Transfer complete; stored as ${plan.target.name}.` : 'Transfer complete.';
  } catch (error) {
    if (handleOpen) await plan.handle.close().catch(() => {});
    await keepAfterFailure(session, plan, sink.written, error);
    throw error;
  } finally {
    const unused = sink.reserved - sink.written;
    if (unused > 0) await session.release(unused);
    session.ctx.workingFiles.delete(plan.working);
    session.ctx.uploadLocks.delete(plan.lockKey);
  }
}

/** Over quota: the account is left as before the upload. Interrupted: the bytes become the partial. */
async function keepAfterFailure(session: FtpSession, plan: UploadPlan, written: number, error: unknown): Promise<void> {
  const home = plan.home;
  if (error instanceof WharfError && error.code === 'EQUOTA') {
    if (plan.kind === 'partial') {
      await home.truncateFile(plan.working, plan.start);
      await session.release(written);
    } else {
      await home.removeFile(plan.working).catch(() => {});
      await session.release(written + (plan.kind === 'copy' ? plan.start : 0));
    }
  } else if (plan.kind === 'fresh' && written === 0) {
    await home.removeFile(plan.working).catch(() => {});
  } else if (plan.working !== plan.partial) {
    // Interrupted: keep the bytes as the partial that REST+STOR or APPE continues.
    await home.move(plan.working, plan.partial).catch(async (renameError: unknown) => {
      session.log.warn({ err: renameError }, 'could not keep a partial upload');
      const stats = await home.statIfPresent(plan.working);
      await home.removeFile(plan.working).catch(() => {});
      if (stats) await session.release(stats.size);
    });
  }
}
