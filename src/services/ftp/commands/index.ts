/**
 * The command table: every verb of protocol/commands.ts's COMMANDS (what each needs before it
 * runs, its aliases, its syntax) has its handler here, grouped by concern in this folder
 * (pyftpdlib's `proto_cmds` and `ftp_VERB` methods; mini-redis's one file per command). The
 * `satisfies` makes a verb without a handler, or a handler for no verb, a compile error rather
 * than a silent 502.
 */
import type { FtpVerb } from '../protocol/commands.js';
import { accessCommands } from './access.js';
import { dataCommands } from './data.js';
import { fileCommands } from './files.js';
import type { CommandHandler } from './handler.js';
import { infoCommands } from './info.js';
import { listingCommands } from './listing.js';
import { navigationCommands } from './navigation.js';
import { securityCommands } from './security.js';
import { siteCommands } from './site.js';
import { transferCommands } from './transfer.js';

export type { AdmittedCommand, CommandHandler, RenameSource } from './handler.js';

export const COMMAND_HANDLERS = {
  ...accessCommands,
  ...infoCommands,
  ...securityCommands,
  ...siteCommands,
  ...navigationCommands,
  ...fileCommands,
  ...listingCommands,
  ...dataCommands,
  ...transferCommands,
} satisfies Record<FtpVerb, CommandHandler>;
