/**
 * The FTP server's log messages that a person reads: one line says who, from where, what and how
 * it ended (`alice 127.0.0.1 RETR /big.bin 5 MiB complete 1.2 s`). The same facts stay as fields
 * of the JSON event for programs. Pure: no I/O.
 */

import { formatBytes } from '../../core/human-size.js';

/** 1536 → `1.5 KiB`, 10 → `10 B`: the one size format of logs and progress bars. */
export const formatSize = formatBytes;

/** 1234 → `1.2 s`, 45 → `0.045 s`. */
export function formatSeconds(ms: number): string {
  return ms < 100 ? `${(ms / 1000).toFixed(3)} s` : `${(ms / 1000).toFixed(1)} s`;
}

export interface TransferLine {
  user: string;
  ip: string;
  verb: string;
  path: string;
  bytes: number;
  ms: number;
  complete: boolean;
  /** Why an incomplete transfer ended (its reply's text). */
  reason?: string;
}

export function formatTransferLine(t: TransferLine): string {
  const line = `${t.user} ${t.ip} ${t.verb} ${t.path} ${formatSize(t.bytes)} ${t.complete ? 'complete' : 'aborted'} ${formatSeconds(t.ms)}`;
  return !t.complete && t.reason ? `${line}: ${t.reason.replace(/\.$/, '')}` : line;
}
