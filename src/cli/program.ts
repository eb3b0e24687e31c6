import { Command } from 'commander';
import { addHostOptions, type RegisterCli } from '../cli-kit/index.js';
import { WHARF_VERSION as version } from '../core/version.js';
import { createCliContext } from './context.js';
import { SERVICES, loadDefinitions } from './services.js';

const USER_SUMMARY = 'manage the accounts every service shares (FTP, dict, diary, chat)';

async function loadUserCli(): Promise<RegisterCli> {
  const { userCommand } = await import('./user-command.js');
  return (program) => void program.addCommand(userCommand());
}

const CONTROL_SUMMARIES = {
  status: "show the running server's services, addresses, open connections, transfers and chat members",
  stop: 'stop the running server gracefully (as Ctrl-C) and wait until it has exited',
};

/** `wharf status` and `wharf stop` talk to the control socket and load nothing else. */
async function loadControlCli(): Promise<RegisterCli> {
  const { registerControlCommands } = await import('./control-commands.js');
  return registerControlCommands(CONTROL_SUMMARIES);
}

/** The commands loaded on use, with the line `wharf --help` shows for each. */
const LAZY_COMMANDS: ReadonlyArray<{ name: string; summary: string; load(): Promise<RegisterCli> }> = [
  ...SERVICES.flatMap((service) => Object.entries(service.commands).map(([name, summary]) => ({ name, summary, load: service.loadCli }))),
  { name: 'user', summary: USER_SUMMARY, load: loadUserCli },
  { name: 'status', summary: CONTROL_SUMMARIES.status, load: loadControlCli },
  { name: 'stop', summary: CONTROL_SUMMARIES.stop, load: loadControlCli },
];

function rootCommand(): Command {
  return new Command('wharf')
    .description('classic socket services on Node.js: echo, chat, FTP, web, DICT, diary, TFTP')
    .version(version, '-V, --version')
    .enablePositionalOptions();
}

/**
 * Every command: exit via exceptions main maps to codes; positional options, so that `wharf
 * echo -p 1 serve -p 2` means what it says; commander's `error:` becomes wharf's one `wharf:`.
 */
function configureTree(command: Command): Command {
  command
    .exitOverride()
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`wharf: ${text.replace(/^error: /, '')}`) });
  for (const sub of command.commands) configureTree(sub);
  return command;
}

/** The `wharf` command tree. `setExitCode` receives the code an action wants the process to exit with. */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const ctx = createCliContext(loadDefinitions, setExitCode);
  const program = rootCommand();
  const names = SERVICES.map((service) => service.name);

  const serveCommand = program
    .command('serve')
    .description(`run services in one process (all when none is named, but exec: it runs only when named): ${names.join(', ')}`)
    .argument('[service...]', 'services to run')
    .option('-H, --host <host>', 'listen address for every service (default 127.0.0.1; 0.0.0.0 faces the network)')
    .option('--console', 'read the console (status, say, quit, help) from standard input even when it is not a terminal')
    .option('--no-console', 'never read the console from the terminal (a service, a script)')
    .option('--redis <url>', 'share the chat rooms with other wharf processes through this Redis (docs/scaling.md)')
    .option('--portal', 'serve the browser portal on the web service (the default here)')
    .option('--no-portal', 'serve only the web root on the web service, no portal');
  addHostOptions(serveCommand).addHelpText(
    'after',
    `
Service settings: --set SERVICE.KEY=VALUE (repeatable), or WHARF_SERVICE_KEY=VALUE, or a --config file.
  wharf serve --set web.listing=true --set echo.port=7070
  wharf serve web ftp --set ftp.anonymous=true
Every setting is in docs/configuration.md and each service's page (docs/<service>.md).`,
  ).action(async (chosen: string[], flags: { portal?: boolean }, command: Command) => {
    const unknown = chosen.filter((name) => !names.includes(name));
    if (unknown.length > 0) command.error(`unknown service: ${unknown.join(', ')} (known: ${names.join(', ')})`, { exitCode: 2, code: 'wharf.unknownService' });
    await ctx.serve(chosen, command, flags.portal === undefined ? {} : { web: { portal: flags.portal } });
  });

  // A stand-in per command: it takes every argument as is, loads the real command and runs it.
  const runLoaded = async (lazy: (typeof LAZY_COMMANDS)[number], args: string[]) => {
    const real = rootCommand();
    (await lazy.load())(real, ctx);
    await configureTree(real).parseAsync([lazy.name, ...args], { from: 'user' });
  };
  for (const lazy of LAZY_COMMANDS) {
    program
      .command(lazy.name)
      .description(lazy.summary)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .passThroughOptions()
      .action((_flags: unknown, stand: Command) => runLoaded(lazy, stand.args));
  }
  // commander's own `help NAME` would show the stand-in's help, not the real command's.
  program
    .helpCommand(false)
    .command('help')
    .description('display help for command')
    .argument('[command]', 'the command')
    .action(async (name: string | undefined) => {
      const lazy = LAZY_COMMANDS.find((candidate) => candidate.name === name);
      if (lazy) return runLoaded(lazy, ['--help']);
      const known = program.commands.find((command) => command.name() === name);
      (known ?? program).help();
    });
  return configureTree(program);
}
