import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defaultDataFolder } from '../cli-kit/data-folder.js';
import { UsageError } from '../core/errors.js';
import { describeConfigIssues } from '../core/config.js';
import type { ServiceDefinition } from '../core/service.js';
import { accountsConfigSchema } from '../store/accounts.js';

/**
 * One schema for the whole of `wharf serve`: the host's own settings plus each service's section.
 * Values come, lowest first, from the schemas' defaults, `--config FILE` (JSON), `WHARF_*`
 * environment variables, then command-line flags.
 */
export const hostConfigSchema = z
  .object({
    /** Where services keep their state (the same folder wherever wharf is started from). */
    data: z.string().min(1).default(() => defaultDataFolder(process.env)),
    /** Database URL; unset means SQLite in the data folder. */
    db: z.string().optional(),
    /** Redis URL: the chat's rooms shared between processes and machines (docs/scaling.md). */
    redis: z.string().regex(/^rediss?:\/\//, { message: 'a Redis URL starts with redis:// or rediss://' }).optional(),
    /** Default listen address for every service that does not set its own. */
    host: z.string().min(1).optional(),
    /** Worker processes sharing the listening sockets (node:cluster). */
    workers: z.number().int().min(1).max(256).default(1),
    /** How the cluster spreads connections: the primary deals them out, or the kernel does. */
    scheduling: z.enum(['round-robin', 'kernel']).default('round-robin'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `pretty`: one short line per event, for a person; `json`: one JSON object per line; `auto`: pretty on a terminal. */
    logFormat: z.enum(['auto', 'pretty', 'json']).default('auto'),
    /** Read the chat's admin console from the terminal (only ever while in the foreground). */
    console: z.boolean().default(true),
    /** How long a graceful stop waits for connections to finish before closing them. */
    shutdownDeadlineMs: z.number().int().min(0).default(5_000),
    /** Log every service's counters this often (0: only when stopping). */
    metricsIntervalMs: z.number().int().min(0).default(0),
    /** The accounts every service shares (docs/accounts.md). */
    accounts: accountsConfigSchema.strict().default(accountsConfigSchema.parse({})),
    services: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  })
  .strict();

export type HostConfig = z.infer<typeof hostConfigSchema>;

export interface ResolvedConfig {
  host: HostConfig;
  services: Map<string, unknown>;
}

type Json = Record<string, unknown>;

const HOST_ENV: Record<string, keyof HostConfig> = {
  WHARF_DATA: 'data',
  WHARF_DB: 'db',
  WHARF_REDIS: 'redis',
  WHARF_HOST: 'host',
  WHARF_WORKERS: 'workers',
  WHARF_SCHEDULING: 'scheduling',
  WHARF_LOG_LEVEL: 'logLevel',
  WHARF_LOG_FORMAT: 'logFormat',
  WHARF_CONSOLE: 'console',
  WHARF_SHUTDOWN_DEADLINE_MS: 'shutdownDeadlineMs',
  WHARF_METRICS_INTERVAL_MS: 'metricsIntervalMs',
};

export function readConfigFile(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the top level must be an object');
    return parsed as Json;
  } catch (error) {
    throw new UsageError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** `MAX_LINE_BYTES` → `maxLineBytes`. */
export function camelFromSnake(snake: string): string {
  return snake.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Text from the environment or `--set` becomes the type of the setting's default: a number where
 * the default is a number, a boolean where it is a boolean, else the text itself (so `--set
 * echo.reply=123` stays the string "123").
 */
export function coerceLike(example: unknown, text: string): unknown {
  if (typeof example === 'number') {
    const n = Number(text);
    return text.trim() !== '' && Number.isFinite(n) ? n : text;
  }
  if (typeof example === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off)$/i.test(text)) return false;
    return text;
  }
  return text;
}

function defaultsOf(definition: ServiceDefinition<unknown>): Json {
  const result = definition.configSchema.safeParse({});
  return result.success && typeof result.data === 'object' && result.data !== null ? (result.data as Json) : {};
}

const HOST_DEFAULTS = hostConfigSchema.parse({}) as unknown as Json;

export interface ConfigSources {
  /**
   * Defaults of the command that serves, below everything else (the file included): `wharf
   * serve` turns the web service's portal on, `wharf web serve` leaves it off.
   */
  serviceDefaults?: Record<string, Json>;
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Host-level flags (`--data`, `--workers`, ...), already typed. */
  hostFlags?: Partial<Record<keyof HostConfig, unknown>>;
  /** Per-service flags, already typed: `{ echo: { port: 7070 } }`. */
  serviceFlags?: Record<string, Json>;
  /** `--set echo.port=7070` style overrides, as text. */
  sets?: string[];
}

export function resolveConfig(definitions: ReadonlyArray<ServiceDefinition<unknown>>, sources: ConfigSources): ResolvedConfig {
  const byName = new Map(definitions.map((d) => [d.name, d]));
  const merged: Json = sources.file ? readConfigFile(sources.file) : {};
  const services: Record<string, Json> = {};
  for (const [name, defaults] of Object.entries(sources.serviceDefaults ?? {})) if (byName.has(name)) services[name] = { ...defaults };
  const fileServices = merged.services;
  if (fileServices !== undefined) {
    if (typeof fileServices !== 'object' || fileServices === null || Array.isArray(fileServices)) throw new UsageError('services: must be an object of service sections');
    for (const [name, section] of Object.entries(fileServices as Json)) {
      if (!byName.has(name)) throw new UsageError(`services.${name}: no such service (known: ${[...byName.keys()].join(', ')})`);
      services[name] = { ...services[name], ...(section as Json) };
    }
  }
  const env = sources.env ?? {};
  for (const [variable, key] of Object.entries(HOST_ENV)) {
    const value = env[variable];
    if (value !== undefined && value !== '') merged[key] = coerceLike(HOST_DEFAULTS[key], value);
  }
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith('WHARF_') || value === undefined || variable in HOST_ENV) continue;
    const rest = variable.slice('WHARF_'.length);
    const definition = definitions.find((d) => rest.startsWith(`${d.name.toUpperCase()}_`));
    if (!definition) continue;
    const key = camelFromSnake(rest.slice(definition.name.length + 1));
    services[definition.name] = { ...services[definition.name], [key]: coerceLike(defaultsOf(definition)[key], value) };
  }
  for (const [key, value] of Object.entries(sources.hostFlags ?? {})) if (value !== undefined) merged[key] = value;
  merged.data ??= defaultDataFolder(env);
  for (const [name, flags] of Object.entries(sources.serviceFlags ?? {})) {
    const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
    services[name] = { ...services[name], ...defined };
  }
  for (const assignment of sources.sets ?? []) {
    const match = /^([a-z0-9-]+)\.([A-Za-z0-9]+)=(.*)$/s.exec(assignment);
    if (!match) throw new UsageError(`--set ${assignment}: expected SERVICE.KEY=VALUE, e.g. echo.port=7070`);
    const [, name, key, text] = match as unknown as [string, string, string, string];
    const definition = byName.get(name);
    if (!definition) throw new UsageError(`--set ${assignment}: no such service ${name}`);
    services[name] = { ...services[name], [key]: coerceLike(defaultsOf(definition)[key], text) };
  }
  merged.services = services;

  const hostResult = hostConfigSchema.safeParse(merged);
  if (!hostResult.success) throw new UsageError(`invalid configuration:\n${describeConfigIssues(hostResult.error)}`);
  const host = hostResult.data;
  const resolved = new Map<string, unknown>();
  for (const definition of definitions) {
    const section: Json = { ...services[definition.name] };
    if (host.host !== undefined && section.host === undefined) section.host = host.host;
    const result = definition.configSchema.safeParse(section);
    if (!result.success) throw new UsageError(`invalid configuration:\n${describeConfigIssues(result.error, `services.${definition.name}`)}`);
    resolved.set(definition.name, result.data);
  }
  return { host, services: resolved };
}
