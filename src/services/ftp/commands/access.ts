/** Logging in and out: USER, PASS, REIN, QUIT (and the crash recovery a first login waits for). */
import { setTimeout as sleep } from 'node:timers/promises';
import { join, sep } from 'node:path';
import { Home } from '../files.js';
import { printable } from '../protocol/commands.js';
import { recoverHome, writerAliveCheck } from '../recovery.js';
import type { FtpSession } from '../session.js';
import type { CommandHandlers } from './handler.js';

export const accessCommands = {
  USER: (session, { argument }) => session.replyWith(session.state.user(argument)),
  PASS: (session, { argument }) => pass(session, argument),
  REIN: (session) => {
    session.loggedOut();
    session.reply(220, 'Logged out; send USER to log in again.');
  },
  QUIT: (session) => {
    if (session.state.quit() === 'now') session.goodbye(221, 'Goodbye.');
  },
} satisfies CommandHandlers;

async function pass(session: FtpSession, password: string): Promise<void> {
  const user = session.state.takeUser();
  if ('code' in user) return session.replyWith(user);
  const { ctx, log, ip } = session;
  const { name } = user;
  if (user.anonymous) {
    if (!ctx.config.anonymous) return loginFailed(session, name, 'anonymous access is off', 1_000, 'Anonymous access is not allowed on this server.');
    const home = await Home.open(ctx.publicRoot, { writable: false, owner: 'ftp' });
    if (session.closed) return;
    const id = password.trim().slice(0, 64) || 'anonymous';
    session.loggedIn(home, undefined, id);
    log.info({ user: 'anonymous', id }, `anonymous ${ip} logged in (${id})`);
    return session.reply(230, 'Anonymous access granted: read-only.');
  }
  const result = await ctx.verify(name, password, ip);
  if (session.closed) return;
  if (!result.ok) {
    if (result.reason === 'throttled') {
      const seconds = Math.ceil((result.retryAfterMs ?? 60_000) / 1000);
      log.warn({ user: name, reason: 'locked-out' }, `${printable(name)} ${ip} login refused: locked out for ${seconds} s`);
      return session.goodbye(421, `Too many failed logins; try again in ${seconds} s.`);
    }
    if (result.reason === 'disabled') return loginFailed(session, name, 'the account is disabled', result.delayMs, 'This account is disabled.');
    return loginFailed(session, name, 'wrong name or password', result.delayMs, 'Login incorrect.', result.retryAfterMs);
  }
  const account = result.account.name;
  const home = await Home.open(join(ctx.usersRoot, account), { writable: true, owner: account });
  await recoverFirstLogin(session, account, home);
  if (session.closed) return;
  session.loggedIn(home, account);
  session.loginFailures = 0;
  log.info({ user: account }, `${account} ${ip} logged in`);
  session.reply(230, 'Login successful.');
}

async function loginFailed(session: FtpSession, name: string, why: string, delayMs: number, message: string, lockedForMs?: number): Promise<void> {
  const failures = ++session.loginFailures;
  const max = session.ctx.config.maxLoginFailures;
  const locked = lockedForMs !== undefined && lockedForMs > 0 ? `; locked out for ${Math.ceil(lockedForMs / 1000)} s` : '';
  session.log.warn(
    { user: name, reason: why, failures, ...(locked ? { lockedForMs } : {}) },
    `${printable(name)} ${session.ip} login failed: ${why} (${failures} of ${max})${locked}`,
  );
  // Answer late (vsftpd delay_failed_login, pyftpdlib auth_failed_timeout): guessing gets slow.
  if (delayMs > 0) await sleep(delayMs);
  if (session.closed) return;
  session.reply(530, message);
  if (lockedForMs !== undefined && lockedForMs > 0) session.goodbye(421, `Too many failed logins; try again in ${Math.ceil(lockedForMs / 1000)} s.`);
  else if (failures >= max) session.goodbye(421, 'Too many failed logins; closing the connection.');
}

/**
 * Before the first session of an account in this process is let in: turn what a crash left in
 * its home into resumable partials and set its quota use from the bytes on disk (docs/ftp.md,
 * "After a crash"). Logins of the account meanwhile wait for the same walk; while another of its
 * sessions is open (maybe uploading, with quota reserved ahead), nothing is recounted.
 */
async function recoverFirstLogin(session: FtpSession, account: string, home: Home): Promise<void> {
  const { ctx, log } = session;
  const running = ctx.recoveries.get(account);
  if (running) return running;
  for (const other of ctx.sessions) if (other !== session && other.user === account) return;
  // The portal's files page is changing this home's bytes and quota (portal/quota-hold.ts).
  const inHome = `${home.root}${sep}`;
  for (const locked of ctx.uploadLocks) if (locked.startsWith(inHome)) return;
  const recovery = (async () => {
    try {
      const found = await recoverHome(home.root, writerAliveCheck(ctx.workingFiles));
      if (found.kept + found.removed > 0) {
        log.warn({ user: account, ...found }, `${account}: ${found.kept} interrupted upload(s) kept as resumable partials, ${found.removed} removed`);
      }
      const { bytesUsed } = await ctx.store.quota.usage(account);
      if (bytesUsed !== found.bytesOnDisk) {
        await ctx.store.quota.setUsed(account, found.bytesOnDisk);
        log.info({ user: account, was: bytesUsed, now: found.bytesOnDisk }, `${account}: quota use recounted from disk, ${bytesUsed} → ${found.bytesOnDisk} bytes`);
      }
    } catch (error) {
      log.warn({ user: account, err: (error as Error).message }, `${account}: could not recover the home folder`);
    }
  })().finally(() => ctx.recoveries.delete(account));
  ctx.recoveries.set(account, recovery);
  return recovery;
}
