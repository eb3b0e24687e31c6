/** The command table: every verb has exactly one handler (the compiler checks "at least one"; this, "not two"). */
import { describe, expect, it } from 'vitest';
import { accessCommands } from '../../../src/services/ftp/commands/access.js';
import { dataCommands } from '../../../src/services/ftp/commands/data.js';
import { fileCommands } from '../../../src/services/ftp/commands/files.js';
import { COMMAND_HANDLERS } from '../../../src/services/ftp/commands/index.js';
import { infoCommands } from '../../../src/services/ftp/commands/info.js';
import { listingCommands } from '../../../src/services/ftp/commands/listing.js';
import { navigationCommands } from '../../../src/services/ftp/commands/navigation.js';
import { securityCommands } from '../../../src/services/ftp/commands/security.js';
import { siteCommands } from '../../../src/services/ftp/commands/site.js';
import { transferCommands } from '../../../src/services/ftp/commands/transfer.js';
import { COMMANDS, helpLines, knownCommand } from '../../../src/services/ftp/protocol/commands.js';

describe('the FTP command table', () => {
  it('has one handler per verb, in one concern file each', () => {
    const groups = [accessCommands, dataCommands, fileCommands, infoCommands, listingCommands, navigationCommands, securityCommands, siteCommands, transferCommands];
    const verbs = groups.flatMap((group) => Object.keys(group));
    expect(verbs.length).toBe(new Set(verbs).size);
    expect(verbs.sort()).toEqual(Object.keys(COMMANDS).sort());
    expect(Object.keys(COMMAND_HANDLERS).sort()).toEqual(Object.keys(COMMANDS).sort());
  });

  it('resolves the RFC 775 aliases to their verbs, and HELP lists both', () => {
    expect(knownCommand('XMKD')).toMatchObject({ verb: 'MKD', syntax: 'XMKD <path> (= MKD)' });
    expect(knownCommand('XCUP')).toMatchObject({ verb: 'CDUP', syntax: 'XCUP (= CDUP)' });
    expect(knownCommand('MKD')).toMatchObject({ verb: 'MKD', syntax: 'MKD <path>' });
    expect(knownCommand('XYZ')).toBeUndefined();
    const help = helpLines().join(' ');
    for (const verb of ['XCUP', 'XCWD', 'XMKD', 'XPWD', 'XRMD', 'RETR', 'USER']) expect(help).toMatch(new RegExp(`\\b${verb}\\b`));
  });
});
