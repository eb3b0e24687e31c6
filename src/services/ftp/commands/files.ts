/** Files and their facts: DELE, RNFR, RNTO, SIZE, MDTM, MFMT, MLST, and HASH with RANG (draft-bryan-ftpext-hash, draft-bryan-ftp-range). */
import type { FileHandle } from 'node:fs/promises';
import { FtpReplyError, replyForFsError } from '../files.js';
import { hashFileRange } from '../hash-file.js';
import { asciiExtraBytes } from '../protocol/ascii.js';
import { formatHashReply, hashRangeFor, parseRangArgument, type ByteRange } from '../protocol/hash.js';
import { formatFacts, formatTime, parseTime } from '../protocol/listing.js';
import { virtualBaseName } from '../protocol/paths.js';
import { quotePath } from '../protocol/replies.js';
import type { FtpSession, VirtualTarget } from '../session.js';
import type { CommandHandlers, RenameSource } from './handler.js';

/** SIZE in ASCII mode reads the file to count line ends; only up to this size. */
const MAX_ASCII_SIZE_SCAN = 64 * 1024 * 1024;

export const fileCommands = {
  DELE: (session, { argument }) => dele(session, argument),
  RNFR: async (session, { argument }) => {
    const home = session.requireWritable();
    const v = session.path(argument);
    const entry = await home.creatable(v.segments, v.path);
    if (!entry.existing) throw new FtpReplyError(550, `${v.path}: no such file or folder.`);
    session.state.renameFromSet({ ...v, entry });
    session.reply(350, 'Ready for RNTO.');
  },
  RNTO: (session, { argument, renameFrom }) => rnto(session, argument, renameFrom),
  SIZE: (session, { argument }) => size(session, argument),
  MDTM: async (session, { argument }) => {
    const v = session.path(argument);
    const entry = await session.homeOrThrow().existing(v.segments, v.path);
    session.reply(213, formatTime(entry.stats.mtime));
  },
  MFMT: async (session, { argument }) => {
    const home = session.requireWritable();
    const match = /^(\S+)\s+(.+)$/.exec(argument.trim());
    const time = match ? parseTime(match[1] as string) : undefined;
    if (!match || !time) throw new FtpReplyError(501, 'Syntax: MFMT YYYYMMDDHHMMSS <path>.');
    const v = session.path(match[2] as string);
    const entry = await home.existing(v.segments, v.path);
    await home.setTimes(entry.real, entry.stats.atime, time);
    session.reply(213, `Modify=${formatTime(time)}; ${v.path}`);
  },
  MLST: async (session, { argument }) => {
    const v = session.path(argument.trim() || '.');
    const home = session.homeOrThrow();
    const entry = await home.existing(v.segments, v.path);
    const info = await home.entry(entry.real, virtualBaseName(v.path) || '/');
    if (!info) throw new FtpReplyError(550, `${v.path}: not a file or folder.`);
    session.reply(250, [`Listing ${v.path}`, ` ${formatFacts(info, session.state.facts, v.path)}`, 'End.']);
  },
  HASH: (session, { argument, range }) => hash(session, argument, range),
  RANG: (session, { argument }) => {
    const parsed = parseRangArgument(argument);
    if (!parsed.ok) return session.reply(501, parsed.message);
    if (parsed.range === 'clear') return session.reply(350, 'Restarting at 0. Ending byte at EOF.');
    session.state.rangeSet(parsed.range);
    session.reply(350, `Restarting at ${parsed.range.start}. Ending byte at ${parsed.range.end}.`);
  },
} satisfies CommandHandlers;

async function dele(session: FtpSession, argument: string): Promise<void> {
  const home = session.requireWritable();
  const v = session.path(argument);
  const target = await home.creatable(v.segments, v.path);
  if (session.ctx.uploadLocks.has(target.real)) throw new FtpReplyError(450, `${v.path}: an upload of this file is in progress.`);
  const partial = home.partialOf(target);
  const partialStats = await home.statIfPresent(partial);
  if (!target.existing && !partialStats?.isFile()) throw new FtpReplyError(550, `${v.path}: no such file.`);
  if (target.existing?.isDirectory()) throw new FtpReplyError(550, `${v.path}: is a folder (use RMD).`);
  let freed = 0;
  if (target.existing) {
    try {
      await home.removeFile(target.real);
    } catch (error) {
      throw replyForFsError(error, v.path);
    }
    freed += target.existing.size;
  }
  // Deleting a file also drops an interrupted upload of it.
  if (partialStats?.isFile()) {
    await home.removeFile(partial).catch(() => {});
    freed += partialStats.size;
  }
  await session.release(freed);
  session.xferlog({ direction: 'deleted', path: v.path, bytes: target.existing?.size ?? 0, durationMs: 0, complete: true });
  session.reply(250, `${quotePath(v.path)} deleted.`);
}

async function rnto(session: FtpSession, argument: string, from: RenameSource | undefined): Promise<void> {
  if (!from) throw new FtpReplyError(503, 'Send RNFR first.');
  const home = session.requireWritable();
  const v = session.path(argument);
  const target = await home.creatable(v.segments, v.path);
  const locks = session.ctx.uploadLocks;
  if (locks.has(target.real) || locks.has(from.entry.real)) throw new FtpReplyError(450, 'An upload of that file is in progress; try again later.');
  if (target.existing?.isDirectory()) throw new FtpReplyError(550, `${v.path}: a folder of that name exists.`);
  const fromIsDir = from.entry.existing?.isDirectory() ?? false;
  if (fromIsDir && (v.path === from.path || v.path.startsWith(`${from.path}/`))) throw new FtpReplyError(553, 'A folder cannot be moved into itself.');
  try {
    await home.move(from.entry.real, target.real);
  } catch (error) {
    throw replyForFsError(error, v.path);
  }
  if (target.existing?.isFile() && target.real !== from.entry.real) await session.release(target.existing.size);
  session.reply(250, `Renamed to ${quotePath(v.path)}.`);
}

async function size(session: FtpSession, argument: string): Promise<void> {
  const v = session.path(argument);
  // An interrupted upload of this name (beside the previous version, if any): its size is where
  // a resume starts (curl -C -, lftp -c) and where APPE continues, so SIZE answers it.
  const partial = await partialSize(session, v);
  if (partial !== undefined) return session.reply(213, String(partial));
  const home = session.homeOrThrow();
  const entry = await home.existing(v.segments, v.path);
  if (!entry.stats.isFile()) throw new FtpReplyError(550, `${v.path}: not a plain file.`);
  if (session.state.type === 'binary') return session.reply(213, String(entry.stats.size));
  if (entry.stats.size > MAX_ASCII_SIZE_SCAN) throw new FtpReplyError(550, 'SIZE in ASCII mode is not available for files this large; send TYPE I first.');
  const handle = await home.openForReading(entry.real);
  session.reply(213, String(entry.stats.size + (await asciiSize(handle))));
}

async function partialSize(session: FtpSession, v: VirtualTarget): Promise<number | undefined> {
  try {
    const home = session.homeOrThrow();
    const stats = await home.statIfPresent(home.partialOf(await home.creatable(v.segments, v.path)));
    return stats?.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}

/** Extra bytes ASCII mode adds to a file (one CR per bare LF); closes the handle. */
async function asciiSize(handle: FileHandle): Promise<number> {
  try {
    let extra = 0;
    let previousWasCr = false;
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    while (true) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return extra;
      const chunk = buffer.subarray(0, bytesRead);
      extra += asciiExtraBytes(chunk, previousWasCr);
      previousWasCr = chunk[bytesRead - 1] === 0x0d;
    }
  } finally {
    await handle.close();
  }
}

async function hash(session: FtpSession, argument: string, asked: ByteRange | undefined): Promise<void> {
  const v = session.path(argument);
  const home = session.homeOrThrow();
  const real = await hashSource(session, v);
  let handle: FileHandle;
  try {
    handle = await home.openForReading(real);
  } catch (error) {
    throw replyForFsError(error, v.path);
  }
  try {
    const size = (await handle.stat()).size;
    const range = hashRangeFor(size, asked);
    if (!range) throw new FtpReplyError(550, `${v.path}: the range starts past the end of the file (${size} bytes).`);
    const algorithm = session.state.hashAlgorithm;
    const hex = await hashFileRange(handle, algorithm, range, size === 0, () => session.closed);
    if (hex !== undefined) session.reply(213, formatHashReply(algorithm, range, hex, v.path));
  } finally {
    await handle.close().catch(() => {});
  }
}

/** The file HASH reads: the file, or (as SIZE answers) an interrupted upload of it, never one being written. */
async function hashSource(session: FtpSession, v: VirtualTarget): Promise<string> {
  const home = session.homeOrThrow();
  const target = await home.creatable(v.segments, v.path);
  if (session.ctx.uploadLocks.has(target.real)) throw new FtpReplyError(450, `${v.path}: an upload of this file is in progress.`);
  if (target.existing) {
    const entry = await home.existing(v.segments, v.path);
    if (!entry.stats.isFile()) throw new FtpReplyError(550, `${v.path}: not a plain file.`);
    return entry.real;
  }
  const partial = home.partialOf(target);
  if ((await home.statIfPresent(partial))?.isFile()) return partial;
  throw new FtpReplyError(550, `${v.path}: no such file.`);
}
