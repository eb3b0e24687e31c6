import { Option, type Command } from 'commander';
import { addHostOptions, port, positiveInt, type CliContext } from '../../cli-kit/index.js';
import { discover } from './client.js';

interface FindFlags {
  address: string;
  port: number;
  timeout: number;
  first?: boolean;
  json?: boolean;
}

/**
 * `wharf discovery serve` answers probes; `wharf discovery find` (also `wharf discover`) sends
 * one and lists who answered: seed 004's broadcast "Hi", as a tool.
 */
export function registerDiscoveryCli(program: Command, ctx: CliContext): void {
  const discovery = program.command('discovery').description('LAN discovery over UDP broadcast (port 7788): find wharf servers and their services');

  const serveCommand = discovery
    .command('serve')
    .description('answer discovery probes with the services this process runs (default UDP port 7788)')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1; 0.0.0.0 to hear LAN broadcasts)')
    .addOption(new Option('-p, --port <port>', 'listen port (default 7788)').argParser(port))
    .option('--name <name>', 'the name to announce (default: the host name)');
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    await ctx.serve(['discovery'], command, { discovery: { host: flags.host, port: flags.port, name: flags.name } });
  });

  const find = async (flags: FindFlags) => {
    const servers = await discover({ address: flags.address, port: flags.port, timeoutMs: flags.timeout, ...(flags.first ? { maxServers: 1 } : {}) });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(servers, null, 2)}\n`);
    } else {
      for (const server of servers) {
        process.stdout.write(`${server.address} ${server.name} (wharf ${server.version})\n`);
        const width = Math.max(0, ...server.services.map((s) => s.service.length));
        for (const service of server.services) process.stdout.write(`  ${service.service.padEnd(width)}  ${service.url}\n`);
      }
    }
    if (servers.length === 0) {
      process.stderr.write(`wharf: no wharf server answered on ${flags.address}:${flags.port} within ${flags.timeout} ms\n`);
      ctx.setExitCode(1);
    }
  };
  const addFindOptions = (command: Command) =>
    command
      .addOption(new Option('-a, --address <address>', 'where to send the probe: a broadcast address or one server').default('255.255.255.255'))
      .addOption(new Option('-p, --port <port>', 'discovery port').argParser(port).default(7788))
      .addOption(new Option('--timeout <ms>', 'how long to wait for answers').argParser(positiveInt).default(1_000))
      .option('--first', 'stop at the first answer (asking one server, or checking that any is there)')
      .option('--json', 'print the servers as JSON')
      .action(find);
  addFindOptions(discovery.command('find').description('broadcast a probe and list every wharf server that answers, with its services (exit 1 if none)'));
  addFindOptions(program.command('discover').description('the same as `wharf discovery find`'));
}
