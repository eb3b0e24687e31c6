import type { RegisterCli } from '../cli-kit/index.js';
import type { ServiceDefinition } from '../core/service.js';

/**
 * Every service the `wharf` command knows, in the order `wharf serve` starts them. Modules load
 * only when used: a client command loads its own service's CLI module and nothing else, so
 * `wharf echo send` starts in a fraction of the time that loading every service took.
 */
export interface ServiceEntry {
  name: string;
  /**
   * The top-level commands the service's CLI module adds, each with the description it gives
   * it: `wharf --help` lists these without loading the module (a test keeps them equal).
   */
  commands: Record<string, string>;
  loadDefinition(): Promise<ServiceDefinition<unknown>>;
  loadCli(): Promise<RegisterCli>;
}

export const SERVICES: readonly ServiceEntry[] = [
  {
    name: 'echo',
    commands: { echo: 'echo service (RFC 862) and its client; with no verb: send each typed line, print the answer, empty line quits' },
    loadDefinition: async () => (await import('../services/echo/index.js')).echoService,
    loadCli: async () => (await import('../services/echo/cli.js')).registerEchoCli,
  },
  {
    name: 'tftp',
    commands: { tftp: 'TFTP server (PXE boot, firmware) and client' },
    loadDefinition: async () => (await import('../services/tftp/index.js')).tftpService,
    loadCli: async () => (await import('../services/tftp/cli.js')).registerTftpCli,
  },
  {
    name: 'web',
    commands: { web: "static web server (HTTP/1.1, HTTPS and HTTP/2): the seeds' WebServer class; `wharf web get URL` downloads" },
    loadDefinition: async () => (await import('../services/web/index.js')).webService,
    loadCli: async () => (await import('../services/web/cli.js')).registerWebCli,
  },
  {
    name: 'diary',
    commands: { diary: 'network diary (seed 003) and its client; with no verb: show the diary, then send each typed line and show the answer (-r reads, -c clears)' },
    loadDefinition: async () => (await import('../services/diary/index.js')).diaryService,
    loadCli: async () => (await import('../services/diary/cli.js')).registerDiaryCli,
  },
  {
    name: 'dict',
    commands: { dict: 'DICT (RFC 2229) dictionary: look up WORD like `dict`; with no word, the interactive register / log in / look up / history menu' },
    loadDefinition: async () => (await import('../services/dict/index.js')).dictService,
    loadCli: async () => (await import('../services/dict/cli.js')).registerDictCli,
  },
  {
    name: 'chat',
    commands: { chat: "chat room (seed protocol on UDP 8000, wharf's on TCP 8001); with no verb: join it from this terminal" },
    loadDefinition: async () => (await import('../services/chat/index.js')).chatService,
    loadCli: async () => (await import('../services/chat/cli.js')).registerChatCli,
  },
  {
    name: 'ftp',
    commands: { ftp: 'FTP file server (RFC 959 + extensions, FTPS) and its client' },
    loadDefinition: async () => (await import('../services/ftp/index.js')).ftpService,
    loadCli: async () => (await import('../services/ftp/cli.js')).registerFtpCli,
  },
  {
    name: 'exec',
    commands: { exec: 'run a named command on a wharf server (no shell; per-account permissions); `wharf exec serve` runs the service, never started by a bare `wharf serve`' },
    loadDefinition: async () => (await import('../services/exec/index.js')).execService,
    loadCli: async () => (await import('../services/exec/cli.js')).registerExecCli,
  },
  // Last, so that its answers list every service started before it.
  {
    name: 'discovery',
    commands: {
      discovery: 'LAN discovery over UDP broadcast (port 7788): find wharf servers and their services',
      discover: 'the same as `wharf discovery find`',
    },
    loadDefinition: async () => (await import('../services/discovery/index.js')).discoveryService,
    loadCli: async () => (await import('../services/discovery/cli.js')).registerDiscoveryCli,
  },
];

/** Every service's definition, in serving order: for `wharf serve`, and only when it runs. */
export function loadDefinitions(): Promise<Array<ServiceDefinition<unknown>>> {
  return Promise.all(SERVICES.map((service) => service.loadDefinition()));
}
