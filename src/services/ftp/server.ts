import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import tls from 'node:tls';
import { UsageError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ClientCommand, ListeningAddress, RunningService, ServiceContext, ServiceDefinition } from '../../core/service.js';
import { listenStreamService } from '../../core/tcp-server.js';
import type { Store, VerifyResult } from '../../store/index.js';
import { requireStore } from '../../store/service-store.js';
import { ftpConfigSchema, type FtpConfig } from './config.js';
import { PassivePortAllocator } from './data-channel.js';
import { parsePortRange } from './protocol/addresses.js';
import { formatXferlogLine, type XferlogRecord } from './protocol/xferlog.js';
import { filesSection } from './portal/section.js';
import { startSeedServers } from './seed-servers.js';
import { FtpSession, type FtpServerContext } from './session.js';

export { ftpConfigSchema, type FtpConfig, type FtpConfigInput } from './config.js';

export interface FtpRunningService extends RunningService {
  /** The control port (handy after listening on port 0). */
  readonly port: number;
  /** Sessions open now. */
  readonly sessionCount: number;
  /** Where the files are: `users/<name>/` and `public/` below it. */
  readonly root: string;
  /** The seed front ends listening (`seed-000`, `seed-001`, `seed-002`), with their ports. */
  readonly seedPorts: Record<string, number>;
}

/** The transfer log: one xferlog line per transfer, appended (created with its folder). */
class TransferLog {
  readonly #stream: WriteStream;
  #failed = false;

  constructor(path: string, logger: Logger) {
    this.#stream = createWriteStream(path, { flags: 'a', mode: 0o640 });
    this.#stream.on('error', (error) => {
      if (!this.#failed) logger.warn({ err: error.message, path }, 'cannot write the transfer log');
      this.#failed = true;
    });
  }

  write(record: XferlogRecord): void {
    if (!this.#failed) this.#stream.write(`${formatXferlogLine(record)}\n`);
  }

  close(): Promise<void> {
    return new Promise((done) => this.#stream.end(() => done()));
  }
}

/**
 * Login checks cost one scrypt each (tens of milliseconds and 16 MiB). A client that opens many
 * sessions at once (lftp --parallel, FileZilla, a script) sends the same name and password on each;
 * verifications of the same address, name and password that are in flight together share one
 * scrypt and one answer. Nothing is remembered once the answer is out: a later login verifies again.
 */
export function coalescedVerify(accounts: Pick<Store['accounts'], 'verify'>): (name: string, password: string, clientIp: string) => Promise<VerifyResult> {
  const inFlight = new Map<string, Promise<VerifyResult>>();
  return (name, password, clientIp) => {
    const key = createHash('sha256').update(`${clientIp}\u0000${name}\u0000${password}`).digest('base64');
    const pending = inFlight.get(key);
    if (pending) return pending;
    const verification = accounts.verify(name, password, clientIp).finally(() => inFlight.delete(key));
    inFlight.set(key, verification);
    return verification;
  };
}

function loadSecureContext(config: FtpConfig): tls.SecureContext | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  try {
    return tls.createSecureContext({ cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey), minVersion: 'TLSv1.2' });
  } catch (error) {
    throw new UsageError(`ftp: cannot use the TLS certificate ${config.tlsCert} / key ${config.tlsKey}: ${(error as Error).message}`);
  }
}

/** Start the FTP server: `ftpService.start`, also for tests and library users (the store in `context.resources`). */
export async function startFtp(context: ServiceContext, config: FtpConfig): Promise<FtpRunningService> {
  const host = { logger: context.logger, metrics: context.metrics, dataDir: context.dataDir, store: requireStore(context, 'ftp') };
  const root = resolve(config.root ?? join(host.dataDir, 'files'));
  const usersRoot = join(root, 'users');
  const publicRoot = join(root, 'public');
  await mkdir(usersRoot, { recursive: true });
  if (config.anonymous) await mkdir(publicRoot, { recursive: true });
  const range = parsePortRange(config.passivePorts);
  if (!range) throw new UsageError(`ftp.passivePorts: expected MIN-MAX or 0, got ${JSON.stringify(config.passivePorts)}`);
  const secureContext = loadSecureContext(config);
  let transferLog: TransferLog | undefined;
  if (config.xferlog !== '') {
    const path = isAbsolute(config.xferlog) ? config.xferlog : join(host.dataDir, config.xferlog);
    await mkdir(dirname(path), { recursive: true });
    transferLog = new TransferLog(path, host.logger);
  }
  const ctx: FtpServerContext = {
    config,
    store: host.store,
    verify: coalescedVerify(host.store.accounts),
    logger: host.logger,
    metrics: host.metrics,
    usersRoot,
    publicRoot,
    passivePorts: new PassivePortAllocator(range),
    uploadLocks: new Set(),
    workingFiles: new Set(),
    recoveries: new Map(),
    xferlog: transferLog ? (record) => transferLog.write(record) : undefined,
    secureContext,
    sessions: new Set(),
  };
  const server = await listenStreamService(config, host, {
    port: config.port,
    refusal: (reason) =>
      reason === 'ip-full'
        ? '421 Too many connections from your address; try again later.\r\n'
        : reason === 'server-full'
          ? '421 Too many users; try again later.\r\n'
          : '421 Server shutting down.\r\n',
    onConnection: (connection) => new FtpSession(connection, ctx).start(),
  });
  const seeds = await startSeedServers(
    { store: host.store, logger: host.logger, usersRoot, uploadLocks: ctx.uploadLocks, workingFiles: ctx.workingFiles, maxFileBytes: config.seedMaxFileBytes },
    config,
  ).catch(async (error: unknown) => {
    await server.stop(0);
    throw error;
  });
  // The portal's files page (issue #19): the same homes, confinement, quota and upload locks.
  const files = filesSection({ store: host.store, logger: host.logger.child({ portal: 'files' }), usersRoot, uploadLocks: ctx.uploadLocks, recoveries: ctx.recoveries });
  const withdrawSection = context.portal?.add(files.section);
  host.logger.info({ root, passivePorts: config.passivePorts, tls: secureContext !== undefined, anonymous: config.anonymous }, 'ftp ready');
  return {
    name: 'ftp',
    addresses: [...(server.addresses as ListeningAddress[]), ...seeds.addresses],
    port: server.port,
    root,
    seedPorts: seeds.ports,
    get sessionCount() {
      return ctx.sessions.size;
    },
    // Transfers of the control sessions; the seed front ends' uploads are not counted.
    status: async () => ({ transfers: [...ctx.sessions].filter((session) => session.transferring).length }),
    clientCommands: () => ftpClientCommands(server.port, (server.addresses as ListeningAddress[])[0]?.address ?? config.host),
    async stop(deadlineMs) {
      withdrawSection?.();
      files.close();
      await Promise.all([server.stop(deadlineMs), seeds.stop(deadlineMs)]);
      await transferLog?.close();
    },
  };
}

/** Standard clients' command lines for the portal's home page (NAME is the reader's account). */
export function ftpClientCommands(port: number, listening: string): ClientCommand[] {
  // Listening on every address: this machine's own is the one that surely answers.
  const address = listening === '0.0.0.0' || listening === '::' ? '127.0.0.1' : listening;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `ftp://${host}:${port}/`;
  return [
    { summary: 'list your files', command: `curl -u NAME ${url}` },
    { summary: 'upload a file', command: `curl -u NAME -T FILE ${url}` },
    { summary: 'download a file', command: `curl -u NAME -O ${url}FILE` },
    { summary: 'an interactive session (resumes with put -c / get -c)', command: `lftp -u NAME -p ${port} ${address}` },
    { summary: 'upload with wharf (resumable)', command: `wharf ftp put FILE --user NAME --host ${address} --port ${port}` },
    { summary: 'list with wharf', command: `wharf ftp list --user NAME --host ${address} --port ${port}` },
  ];
}

export const ftpService: ServiceDefinition<FtpConfig> = {
  name: 'ftp',
  summary: 'FTP file server (RFC 959, EPSV/EPRT, MLSD, REST, explicit FTPS) with per-user homes and quotas',
  configSchema: ftpConfigSchema,
  uses: ['store'],
  start: startFtp,
};
