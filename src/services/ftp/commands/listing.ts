/** Listings over the data connection: LIST, NLST, MLSD (STAT <path> shares `entriesFor`). */
import { FtpReplyError, replyForFsError } from '../files.js';
import { formatFacts, formatListLine, hasWildcards, splitListArgument, wildcardMatcher, type EntryInfo } from '../protocol/listing.js';
import { virtualBaseName, virtualParent } from '../protocol/paths.js';
import type { FtpSession, VirtualTarget } from '../session.js';
import { sendText } from '../transfer.js';
import type { CommandHandlers } from './handler.js';

type ListingVerb = 'LIST' | 'NLST' | 'MLSD';

export const listingCommands = {
  LIST: (session, { argument }) => listing(session, 'LIST', argument),
  NLST: (session, { argument }) => listing(session, 'NLST', argument),
  MLSD: (session, { argument }) => listing(session, 'MLSD', argument),
} satisfies CommandHandlers;

/** A folder's entries, or the one entry of a file (not for MLSD, which lists folders only). */
export async function entriesFor(session: FtpSession, v: VirtualTarget, verb: ListingVerb): Promise<EntryInfo[]> {
  const home = session.homeOrThrow();
  const entry = await home.existing(v.segments, v.path);
  if (entry.stats.isDirectory()) {
    try {
      return await home.list(entry.real);
    } catch (error) {
      throw replyForFsError(error, v.path);
    }
  }
  if (verb === 'MLSD') throw new FtpReplyError(501, `${v.path}: not a folder (MLST describes a file).`);
  const info = await home.entry(entry.real, virtualBaseName(v.path));
  return info ? [info] : [];
}

/** LIST/NLST of `dir/*.txt` (what `mget *.txt` sends): the matching names of the folder, when no file has that very name. */
async function entriesOrMatches(session: FtpSession, v: VirtualTarget, verb: ListingVerb): Promise<EntryInfo[]> {
  const last = virtualBaseName(v.path);
  if (!hasWildcards(last)) return entriesFor(session, v, verb);
  try {
    return await entriesFor(session, v, verb);
  } catch (error) {
    if (!(error instanceof FtpReplyError) || error.code !== 550) throw error;
  }
  const home = session.homeOrThrow();
  const parent = { segments: v.segments.slice(0, -1), path: virtualParent(v.path) };
  const folder = await home.existing(parent.segments, parent.path);
  if (!folder.stats.isDirectory()) throw new FtpReplyError(550, `${parent.path}: not a folder.`);
  const matches = wildcardMatcher(last);
  const entries = (await home.list(folder.real)).filter((entry) => matches(entry.name));
  if (entries.length === 0) throw new FtpReplyError(550, `${v.path}: no files match.`);
  return entries;
}

async function listing(session: FtpSession, verb: ListingVerb, argument: string): Promise<void> {
  const path = verb === 'MLSD' ? argument.trim() : splitListArgument(argument).path;
  const v = session.path(path || '.');
  session.checkData();
  const entries = verb === 'MLSD' ? await entriesFor(session, v, verb) : await entriesOrMatches(session, v, verb);
  const now = new Date();
  let lines: string[];
  if (verb === 'LIST') lines = entries.map((e) => formatListLine(e, now));
  else if (verb === 'NLST') lines = entries.map((e) => e.name);
  else lines = entries.map((e) => formatFacts(e, session.state.facts));
  const text = lines.map((line) => `${line}\r\n`).join('');
  session.startTransfer({ verb, path: v.path, opening: `Here comes the listing of ${v.path}.` }, async (socket, transfer) => {
    await sendText(text, socket, { signal: transfer.controller.signal, progress: transfer.progress });
    return 'Listing sent.';
  });
}
