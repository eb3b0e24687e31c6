/**
 * FTP's login recounts an account's quota use from the bytes on its disk when no FTP session of
 * the account is open (commands/access.ts `recoverFirstLogin`). A portal operation changes the
 * disk and the quota in two steps (a chunk's bytes reserved, then written; a file removed, then
 * its bytes given back): a recount between the two would forget the reservation, or give the
 * bytes back twice. So the operation waits for a recount of the account under way, then holds an
 * upload lock on its path inside the home for both steps, and a recount does not start while a
 * lock inside the home is held.
 */
import { WharfError } from '../../../core/errors.js';

export interface QuotaHoldDeps {
  /** FTP's upload locks (real paths), shared with the FTP sessions. */
  uploadLocks: Set<string>;
  /** FTP's recounts under way, by account (FtpServerContext `recoveries`); absent without FTP sessions. */
  recoveries?: Map<string, Promise<void>>;
}

/**
 * Wait until no recount of `account` runs, then lock `path` (ETAKEN with `busy` when it is
 * locked already). The check and the lock come with no await between, so a recount that starts
 * afterwards sees the lock. Returns the unlock.
 */
export async function holdForQuota(deps: QuotaHoldDeps, account: string, path: string, busy: string): Promise<() => void> {
  for (let recount = deps.recoveries?.get(account); recount !== undefined; recount = deps.recoveries?.get(account)) {
    await recount.catch(() => {});
  }
  if (deps.uploadLocks.has(path)) throw new WharfError('ETAKEN', busy);
  deps.uploadLocks.add(path);
  return () => {
    deps.uploadLocks.delete(path);
  };
}
