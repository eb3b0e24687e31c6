import { InvalidArgumentError as InvalidArgument, Option, type Command } from 'commander';
import type { ServiceDefinition } from '../core/service.js';
import { resolveConfig, type HostConfig } from './config.js';
import { serve } from './serve.js';

/** What a service's CLI module gets from the `wharf` command. */
export interface CliContext {
  definitions: ReadonlyArray<ServiceDefinition<unknown>>;
  /** Set by an action to choose the process exit code. */
  setExitCode(code: number): void;
  /** Run `serve` for the named services with the host flags of `command` and per-service flags. */
  serve(names: string[], command: Command, serviceFlags?: Record<string, Record<string, unknown>>): Promise<void>;
}

/** Flags every serving command accepts (`wharf serve`, `wharf echo serve`, ...). */
export function addHostOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'JSON config file (see docs/configuration.md)')
    .option('--data <dir>', 'data folder (default ./wharf-data, env WHARF_DATA)')
    .option('--db <url>', 'database URL: postgres://..., mysql://... (default SQLite in the data folder)')
    .addOption(new Option('--workers <n>', 'worker processes sharing the ports (node:cluster)').argParser(positiveInt))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .option('--set <service.key=value>', 'override any service setting, e.g. --set echo.port=7070 (repeatable)', collect, [] as string[]);
}

export function hostFlagsFrom(options: Record<string, unknown>): Partial<Record<keyof HostConfig, unknown>> {
  return {
    data: options.data,
    db: options.db,
    workers: options.workers,
    logLevel: options.logLevel,
    host: options.host,
    // Only `--no-console` says anything; without it the config file or WHARF_CONSOLE decides.
    console: options.console === false ? false : undefined,
  };
}

export function createCliContext(definitions: ReadonlyArray<ServiceDefinition<unknown>>, setExitCode: (code: number) => void): CliContext {
  return {
    definitions,
    setExitCode,
    async serve(names, command, serviceFlags) {
      const options = command.opts<Record<string, unknown>>();
      const chosen = names.length === 0 ? definitions : names.map((name) => definitions.find((d) => d.name === name)).filter((d): d is ServiceDefinition<unknown> => d !== undefined);
      const config = resolveConfig(definitions, {
        file: options.config as string | undefined,
        env: process.env,
        hostFlags: hostFlagsFrom(options),
        serviceFlags: serviceFlags ?? {},
        sets: (options.set as string[] | undefined) ?? [],
      });
      const code = await serve({ definitions: chosen, config, console: process.stdin.isTTY === true });
      setExitCode(code);
    },
  };
}

export function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgument(`expected a whole number of at least 1, got ${JSON.stringify(text)}`);
  return n;
}

export function nonNegativeInt(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgument(`expected a whole number of at least 0, got ${JSON.stringify(text)}`);
  return n;
}

export function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgument(`expected a port number from 0 to 65535, got ${JSON.stringify(text)}`);
  return n;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
