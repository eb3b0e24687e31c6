import { Command } from 'commander';
import { WHARF_VERSION as version } from '../core/version.js';
import { addHostOptions, createCliContext } from './context.js';
import { SERVICES } from './services.js';
import { userCommand } from './user-command.js';

/** The `wharf` command tree. `setExitCode` receives the code an action wants the process to exit with. */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const definitions = SERVICES.map((s) => s.definition);
  const ctx = createCliContext(definitions, setExitCode);
  const program = new Command('wharf')
    .description('classic socket services on Node.js: echo, chat, FTP, web, DICT, diary, TFTP')
    .version(version, '-V, --version')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const serveCommand = program
    .command('serve')
    .description(`run services in one process (all when none is named): ${definitions.map((d) => d.name).join(', ')}`)
    .argument('[service...]', 'services to run')
    .option('-H, --host <host>', 'listen address for every service (default 127.0.0.1; 0.0.0.0 faces the network)')
    .option('--no-console', 'never read the chat admin console from the terminal (a service, a script)');
  addHostOptions(serveCommand).addHelpText(
    'after',
    `
Service settings: --set SERVICE.KEY=VALUE (repeatable), or WHARF_SERVICE_KEY=VALUE, or a --config file.
  wharf serve --set web.listing=true --set echo.port=7070
  wharf serve web ftp --set ftp.anonymous=true
Every setting is in docs/configuration.md and each service's page (docs/<service>.md).`,
  ).action(async (names: string[], _flags: unknown, command: Command) => {
    const unknown = names.filter((name) => !definitions.some((d) => d.name === name));
    if (unknown.length > 0) command.error(`unknown service: ${unknown.join(', ')} (known: ${definitions.map((d) => d.name).join(', ')})`, { exitCode: 2, code: 'wharf.unknownService' });
    await ctx.serve(names, command);
  });

  for (const service of SERVICES) service.registerCli(program, ctx);
  program.addCommand(userCommand());

  // Every command: exit via exceptions we map to codes, positional options so `wharf echo -p 1
  // serve -p 2` means what it says.
  const configure = (command: Command) => {
    command.exitOverride().enablePositionalOptions().showHelpAfterError('(run with --help for usage)');
    for (const sub of command.commands) configure(sub);
  };
  for (const sub of program.commands) configure(sub);
  return program;
}
