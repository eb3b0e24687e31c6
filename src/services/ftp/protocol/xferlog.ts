/** The transfer log, in the xferlog format of wu-ftpd and vsftpd (`man 5 xferlog`), pure. */
import { MONTHS } from './listing.js';

export interface XferlogRecord {
  /** When the transfer ended. */
  time: Date;
  durationMs: number;
  remoteHost: string;
  bytes: number;
  /** The virtual path (as the user sees it). */
  path: string;
  type: 'ascii' | 'binary';
  direction: 'incoming' | 'outgoing' | 'deleted';
  access: 'anonymous' | 'real';
  user: string;
  complete: boolean;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/**
 * `Thu Mar  4 08:12:30 2021 1 127.0.0.1 1024 /a/file b _ i r alice ftp 0 * c`. Time in UTC.
 * White space in a file name becomes `_` so that the line still splits into its 18 fields.
 */
export function formatXferlogLine(record: XferlogRecord): string {
  const t = record.time;
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${DAYS[t.getUTCDay()]} ${MONTHS[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, ' ')} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())} ${t.getUTCFullYear()}`;
  const seconds = Math.max(1, Math.round(record.durationMs / 1000));
  // eslint-disable-next-line no-control-regex
  const path = record.path.replace(/[\s\u0000-\u001f]/g, '_');
  const user = record.user.replace(/\s/g, '_') || '*';
  return [
    stamp,
    seconds,
    record.remoteHost,
    record.bytes,
    path,
    record.type === 'ascii' ? 'a' : 'b',
    '_',
    record.direction === 'incoming' ? 'i' : record.direction === 'outgoing' ? 'o' : 'd',
    record.access === 'anonymous' ? 'a' : 'r',
    user,
    'ftp',
    '0',
    '*',
    record.complete ? 'c' : 'i',
  ].join(' ');
}
