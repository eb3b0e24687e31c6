import { Option, type Command } from 'commander';
import { DATA_FOLDER_HELP } from './data-folder.js';
import { collect, positiveInt } from './options.js';

/**
 * What a service's CLI module gets from the `wharf` command. The host (`serve`, config loading)
 * lives in src/cli and is reached only through `serve`, so that a client command loads none of it.
 */
export interface CliContext {
  /** Set by an action to choose the process exit code. */
  setExitCode(code: number): void;
  /** Run `serve` for the named services with the host flags of `command` and per-service flags. */
  serve(names: string[], command: Command, serviceFlags?: Record<string, Record<string, unknown>>): Promise<void>;
}

/** A service's CLI module: `registerCli` adds `wharf <name> ...` to the program. */
export type RegisterCli = (program: Command, ctx: CliContext) => void;

/** Flags every serving command accepts (`wharf serve`, `wharf echo serve`, ...). */
export function addHostOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'JSON config file (see docs/configuration.md)')
    .option('--data <dir>', DATA_FOLDER_HELP)
    .option('--db <url>', 'database URL: postgres://..., mysql://... (default SQLite in the data folder)')
    .addOption(new Option('--workers <n>', 'worker processes sharing the ports (node:cluster)').argParser(positiveInt))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .option('--set <service.key=value>', 'override any service setting, e.g. --set echo.port=7070 (repeatable)', collect, [] as string[]);
}
