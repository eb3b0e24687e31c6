/**
 * The seed front ends the FTP config turns on (`seed000`, `seed001`, `seed002`), each on its own
 * port, beside the FTP server and over its homes, quotas, accounts and upload locks.
 */
import { UsageError } from '../../core/errors.js';
import type { ListeningAddress } from '../../core/service.js';
import { listenStreamService, type ServiceStreamOptions, type StreamServer } from '../../core/tcp-server.js';
import type { FtpConfig } from './config.js';
import { openAccountHome, type SeedFilesContext } from './seed-files.js';
import { Seed000Session } from './seed-000.js';
import { Seed001Session } from './seed-001.js';
import { Seed002Session } from './seed-002.js';

export interface RunningSeedServers {
  /** Each front end that listens, by name (`seed-000`...), with its port. */
  readonly ports: Record<string, number>;
  readonly addresses: ListeningAddress[];
  stop(deadlineMs?: number): Promise<void>;
}

/** The one account seed 000 and 001 (which have no login) serve; it must exist. */
async function loginlessAccount(ctx: SeedFilesContext, config: FtpConfig): Promise<string> {
  const name = config.seedAccount;
  if (name === undefined || name === '') throw new UsageError('ftp: seed000 and seed001 have no login: set ftp.seedAccount to the account whose files they serve');
  const account = await ctx.store.accounts.get(name);
  if (!account) throw new UsageError(`ftp.seedAccount: there is no account named "${name}" (create it with: wharf accounts add ${name})`);
  return account.name;
}

export async function startSeedServers(ctx: SeedFilesContext, config: FtpConfig): Promise<RunningSeedServers> {
  const servers: Array<[string, StreamServer]> = [];
  const listen = (name: string, port: number, onConnection: ServiceStreamOptions['onConnection']) =>
    listenStreamService(config, { logger: ctx.logger }, { port, onConnection }).then((server) => {
      servers.push([name, server]);
      ctx.logger.info({ port: server.port }, `ftp ${name} front end listening on ${config.host}:${server.port}`);
    });
  try {
    if (config.seed000 || config.seed001) {
      const account = await loginlessAccount(ctx, config);
      const home = await openAccountHome(ctx, account);
      const shared = { ...ctx, account, writeHighWaterBytes: config.writeHighWaterBytes };
      if (config.seed000) {
        const seed000 = { ...shared, messageGapMs: config.seedMessageGapMs, maxBadCommands: config.maxBadCommands };
        await listen('seed-000', config.seed000Port, (connection) => new Seed000Session(connection, seed000, home));
      }
      if (config.seed001) await listen('seed-001', config.seed001Port, (connection) => new Seed001Session(connection, shared, home));
    }
    if (config.seed002) {
      const seed002 = { ...ctx, maxLoginFailures: config.maxLoginFailures, maxBadCommands: config.maxBadCommands };
      await listen('seed-002', config.seed002Port, (connection) => new Seed002Session(connection, seed002));
    }
  } catch (error) {
    await Promise.all(servers.map(([, server]) => server.stop(0)));
    throw error;
  }
  return {
    ports: Object.fromEntries(servers.map(([name, server]) => [name, server.port])),
    addresses: servers.flatMap(([, server]) => server.addresses),
    async stop(deadlineMs) {
      await Promise.all(servers.map(([, server]) => server.stop(deadlineMs)));
    },
  };
}
