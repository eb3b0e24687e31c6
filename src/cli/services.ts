import type { Command } from 'commander';
import type { ServiceDefinition } from '../core/service.js';
import { echoService } from '../services/echo/server.js';
import { registerEchoCli } from '../services/echo/cli.js';
import type { CliContext } from './context.js';

/** Every service the `wharf` command knows, in the order `wharf serve` starts them. */
export interface ServiceEntry {
  definition: ServiceDefinition<unknown>;
  registerCli(program: Command, ctx: CliContext): void;
}

export const SERVICES: ServiceEntry[] = [
  { definition: echoService as ServiceDefinition<unknown>, registerCli: registerEchoCli },
  { definition: (await import('../services/tftp/server.js')).tftpService as ServiceDefinition<unknown>, registerCli: (await import('../services/tftp/cli.js')).registerTftpCli },
  { definition: (await import('../services/web/server.js')).webService as ServiceDefinition<unknown>, registerCli: (await import('../services/web/cli.js')).registerWebCli },
  { definition: (await import('../services/diary/server.js')).diaryService as ServiceDefinition<unknown>, registerCli: (await import('../services/diary/cli.js')).registerDiaryCli },
  { definition: (await import('../services/dict/server.js')).dictService as ServiceDefinition<unknown>, registerCli: (await import('../services/dict/cli.js')).registerDictCli },
  { definition: (await import('../services/chat/server.js')).chatService as ServiceDefinition<unknown>, registerCli: (await import('../services/chat/cli.js')).registerChatCli },
  { definition: (await import('../services/ftp/server.js')).ftpService as ServiceDefinition<unknown>, registerCli: (await import('../services/ftp/cli.js')).registerFtpCli },
  // Last, so that its answers list every service started before it.
  { definition: (await import('../services/discovery/server.js')).discoveryService as ServiceDefinition<unknown>, registerCli: (await import('../services/discovery/cli.js')).registerDiscoveryCli },
];
