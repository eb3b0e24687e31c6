import { EXIT_INTERRUPTED, takeOverInterrupts, type CliContext } from '../cli-kit/index.js';
import type { ServiceDefinition } from '../core/service.js';
import type { HostConfig } from './config.js';

export function hostFlagsFrom(options: Record<string, unknown>): Partial<Record<keyof HostConfig, unknown>> {
  return {
    data: options.data,
    db: options.db,
    redis: options.redis,
    workers: options.workers,
    logLevel: options.logLevel,
    host: options.host,
    // Only `--no-console` says anything; without it the config file or WHARF_CONSOLE decides.
    console: options.console === false ? false : undefined,
  };
}

/**
 * The host side of CliContext. `serve` loads the service definitions, the config schema and the
 * host (store, cluster) only when a serving command runs: a client command never pays for them.
 */
export function createCliContext(loadDefinitions: () => Promise<ReadonlyArray<ServiceDefinition<unknown>>>, setExitCode: (code: number) => void): CliContext {
  return {
    setExitCode,
    async serve(names, command, serviceFlags) {
      const [definitions, { resolveConfig }, { serve }, { isClusterWorker }] = await Promise.all([loadDefinitions(), import('./config.js'), import('./serve.js'), import('../core/cluster.js')]);
      const options = command.opts<Record<string, unknown>>();
      const chosen = names.length === 0 ? definitions.filter((d) => d.namedOnly !== true) : names.map((name) => definitions.find((d) => d.name === name)).filter((d): d is ServiceDefinition<unknown> => d !== undefined);
      const config = resolveConfig(definitions, {
        // `wharf serve` (not `wharf web serve`, which serves a plain site): the browser portal on.
        serviceDefaults: command.name() === 'serve' && command.parent?.parent === null ? { web: { portal: true } } : {},
        file: options.config as string | undefined,
        env: process.env,
        hostFlags: hostFlagsFrom(options),
        serviceFlags: serviceFlags ?? {},
        sets: (options.set as string[] | undefined) ?? [],
      });
      const interrupted = takeOverInterrupts({ quiet: isClusterWorker() });
      // `--console` (on `wharf serve` and `wharf chat serve`) reads standard input whatever it is.
      const code = await serve({ definitions: chosen, config, console: options.console === true || process.stdin.isTTY === true });
      // Stopped gracefully by Ctrl-C: still 130, as every interrupted command (a worker's exit
      // code is the primary's business, and 0 tells it the stop went well).
      setExitCode(code === 0 && interrupted() && !isClusterWorker() ? EXIT_INTERRUPTED : code);
    },
  };
}
