/** Setting up the data connection: PASV, EPSV (RFC 2428), PORT, EPRT (RFC 2428). */
import { ActiveDataSource, PassiveDataSource } from '../data-channel.js';
import { FtpReplyError } from '../files.js';
import { formatEpsvReply, formatPasvReply, parseEprtArgument, parsePortArgument, sameAddress, type HostPort } from '../protocol/addresses.js';
import type { FtpSession } from '../session.js';
import type { CommandHandlers } from './handler.js';

export const dataCommands = {
  PASV: async (session) => {
    refuseAfterEpsvAll(session);
    if (session.controlIsIPv6) throw new FtpReplyError(501, 'PASV is for IPv4 only; use EPSV.');
    const port = await openPassive(session);
    session.reply(227, formatPasvReply(session.ctx.config.masqueradeAddress || session.localAddress, port));
  },
  EPSV: async (session, { argument }) => {
    const value = argument.trim().toUpperCase();
    if (value === 'ALL') {
      session.state.epsvAll();
      return session.reply(200, 'EPSV ALL ok.');
    }
    const family = session.controlIsIPv6 ? '2' : '1';
    if (value !== '' && value !== family) {
      if (value === '1' || value === '2') throw new FtpReplyError(522, `Network protocol not supported, use (${family})`);
      throw new FtpReplyError(501, 'Syntax: EPSV [1|2|ALL].');
    }
    session.reply(229, formatEpsvReply(await openPassive(session)));
  },
  PORT: (session, { argument }) => {
    refuseAfterEpsvAll(session);
    const target = parsePortArgument(argument);
    if (!target) throw new FtpReplyError(501, 'Illegal PORT command.');
    if (session.controlIsIPv6 && !sameAddress(session.ip, target.host)) throw new FtpReplyError(522, 'Network protocol not supported, use (2)');
    connectTo(session, target);
    session.reply(200, 'PORT command successful. Consider using PASV.');
  },
  EPRT: (session, { argument }) => {
    refuseAfterEpsvAll(session);
    const target = parseEprtArgument(argument);
    if (!target) throw new FtpReplyError(501, 'Illegal EPRT command.');
    const family = session.controlIsIPv6 && !/^\d+\.\d+\.\d+\.\d+$/.test(session.ip) ? 2 : 1;
    if (target.family !== family) throw new FtpReplyError(522, `Network protocol not supported, use (${family})`);
    connectTo(session, target);
    session.reply(200, 'EPRT command successful.');
  },
} satisfies CommandHandlers;

function refuseAfterEpsvAll(session: FtpSession): void {
  const refusal = session.state.addressRefusal();
  if (refusal) throw new FtpReplyError(refusal.code, refusal.message);
}

/** A passive port for the next transfer; its number. */
async function openPassive(session: FtpSession): Promise<number> {
  session.closeData();
  const { ctx, log } = session;
  let server;
  try {
    server = await ctx.passivePorts.listen(session.localAddress);
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'no passive port');
    throw new FtpReplyError(425, 'Cannot open a passive port: all are in use; try again later.');
  }
  const source = new PassiveDataSource(server, {
    peerAddress: session.ip,
    permitForeign: ctx.config.permitForeignAddresses,
    acceptTimeoutMs: ctx.config.connectTimeoutMs,
    logger: log,
  });
  if (session.closed) {
    source.close();
    throw new FtpReplyError(421, 'Closing.');
  }
  session.setData(source);
  return source.port;
}

/** PORT/EPRT: the next transfer connects to the client, to its own address only (no FTP bounce) unless configured. */
function connectTo(session: FtpSession, target: HostPort): void {
  const config = session.ctx.config;
  if (!config.permitForeignAddresses && !sameAddress(target.host, session.ip)) {
    session.log.warn({ target: target.host, port: target.port }, 'refused PORT/EPRT to a foreign address');
    throw new FtpReplyError(501, 'Rejected: the data connection must go to your own address.');
  }
  if (!config.permitPrivilegedPorts && target.port < 1024) throw new FtpReplyError(501, 'Rejected: ports below 1024 are not allowed.');
  session.setData(new ActiveDataSource(target.host, target.port, session.localAddress));
}
