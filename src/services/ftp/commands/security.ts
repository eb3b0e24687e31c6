/** TLS on the control and data connections (RFC 4217): AUTH, PBSZ, PROT. The order they must come in is session-state.ts's. */
import { printable } from '../protocol/commands.js';
import type { CommandHandlers } from './handler.js';

export const securityCommands = {
  AUTH: (session, { argument }) => {
    const mechanism = argument.trim().toUpperCase();
    const context = session.ctx.secureContext;
    if (!['TLS', 'SSL', 'TLS-C', 'TLS-P'].includes(mechanism)) return session.reply(504, `AUTH ${printable(mechanism)} is not supported; use AUTH TLS.`);
    if (!context) return session.reply(502, 'AUTH TLS is not available: this server has no certificate configured.');
    const refusal = session.state.authRefusal();
    if (refusal) return session.replyWith(refusal);
    session.reply(234, `AUTH ${mechanism} successful.`);
    session.startTls(context);
  },
  PBSZ: (session, { argument }) => session.replyWith(session.state.pbsz(argument)),
  PROT: (session, { argument }) => session.replyWith(session.state.prot(argument)),
} satisfies CommandHandlers;
