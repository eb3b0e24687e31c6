import { z } from 'zod';
import { listenSchema, portSchema, sizeSchema } from '../../core/config.js';
import { compileCommand, type CompiledCommand } from './protocol.js';

/** A command: its argv template alone (administrators only), or the template with who may run it. */
const commandSchema = z.union([
  z.array(z.string()).min(1),
  z
    .object({
      argv: z.array(z.string()).min(1),
      allow: z.array(z.string().min(1)).default(['@admin']),
      /** Open to the seed protocol (no login): anyone who reaches the port may run it. */
      seed: z.boolean().default(false),
      description: z.string().max(200).optional(),
    })
    .strict(),
]);

export const execConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(9999),
    /** The commands, by name. Empty by default: the service refuses to start without any. */
    commands: z.record(z.string(), commandSchema).default({}),
    /** Groups for `allow` (`@ops`): account names. `@admin` is every administrator. */
    groups: z.record(z.string(), z.array(z.string())).default({}),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    /** Listen on a non-loopback address without TLS: passwords and output in clear text. */
    insecure: z.boolean().default(false),
    /** Answer the seed's own client (seed 002 §3) on the same port: no login, `seed` commands only. */
    seedProtocol: z.boolean().default(false),
    /** Who may speak the seed protocol: `loopback`, `any`, or exact IP addresses. */
    seedFrom: z.array(z.string().min(1)).default(['loopback']),
    timeoutMs: z.number().int().positive().default(60_000),
    maxOutputBytes: sizeSchema.default(16 * 1024 * 1024),
    maxRunsPerAccount: z.number().int().positive().default(4),
    maxRuns: z.number().int().positive().default(32),
    maxConnections: z.number().int().positive().default(256),
    /** A connection that has not logged in (or, for the seed, sent a command) by then is closed. */
    loginTimeoutMs: z.number().int().positive().default(30_000),
    /** Idle time between runs before a logged-in connection is closed. */
    idleTimeoutMs: z.number().int().positive().default(300_000),
    /** Variables passed through from wharf's environment; every other one is dropped. */
    environment: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default(['PATH', 'LANG', 'LC_ALL', 'TZ']),
    /** Variables set for every command (after the pass-through). */
    setEnvironment: z.record(z.string(), z.string()).default({}),
    workingDirectory: z.string().min(1).default('/'),
    /** Run commands as this uid/gid (wharf must run as root to switch). */
    uid: z.number().int().min(0).optional(),
    gid: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((c) => (c.tlsCert === undefined) === (c.tlsKey === undefined), { message: 'give both tlsCert and tlsKey, or neither', path: ['tlsCert'] })
  .refine((c) => !(c.seedProtocol && c.tlsCert !== undefined), { message: "the seed's client cannot speak TLS: run the seed protocol on an exec service without a certificate", path: ['seedProtocol'] });

export type ExecConfig = z.infer<typeof execConfigSchema>;

/** Every command of the configuration, checked; throws a sentence naming the bad one. */
export function compileCommands(config: ExecConfig): Map<string, CompiledCommand> {
  const commands = new Map<string, CompiledCommand>();
  for (const [name, spec] of Object.entries(config.commands)) {
    const full = Array.isArray(spec) ? { argv: spec, allow: ['@admin'], seed: false } : spec;
    commands.set(name, compileCommand(name, full));
  }
  return commands;
}

/** The whole environment a command gets: the pass-through list, then the fixed values. */
export function commandEnvironment(config: ExecConfig, from: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of config.environment) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...config.setEnvironment };
}
