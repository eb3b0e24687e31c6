import { z } from 'zod';
import { listenSchema, portSchema, streamLimitsSchema } from '../../core/config.js';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { ForkingServer } from '../../core/fork-server.js';
import type { ClientCommand, ListeningAddress, RunningService, ServiceContext, ServiceDefinition } from '../../core/service.js';
import { listenStreamService } from '../../core/tcp-server.js';
import { hostUdpPorts } from '../../core/udp-guard.js';
import { DatagramServer } from '../../core/udp-server.js';
import { LineDecoder } from '../../codec/index.js';
import { framed } from '../../core/framed.js';
import { readConsoleLines, type ConsoleReader } from '../../core/console.js';
import { ConsoleReplies } from './console-replies.js';
import { answerFor, isEndMarker, modeFrom, printLine, type EchoFraming, type EchoMode, type PrintStyle } from './protocol.js';

export const echoConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(7007),
    tcp: z.boolean().default(true),
    udp: z.boolean().default(true),
    /** Answer every message with this text (the seeds' `Thanks` / `ok` servers). */
    reply: z.string().optional(),
    /** Answer every message with this text followed by the message (the seed's `收到！`). */
    prefix: z.string().optional(),
    /** How a TCP stream is cut into messages in the reply modes. */
    framing: z.enum(['raw', 'line']).default('raw'),
    /** Longest line in `line` framing. */
    maxLineBytes: z.number().int().positive().default(64 * 1024),
    /** Sent to each TCP client as soon as it connects (seed 002's `hello...`, seed 003's `Welcome to the server…`). */
    greeting: z.string().max(65_536).optional(),
    /** Answer one message per TCP connection, then close (seed 000 §2's one-message server). */
    once: z.boolean().default(false),
    /** Show every message with its sender on standard output, in one of the seeds' styles. */
    print: z.enum(['off', 'from', 'ctime']).default('off'),
    /** The person at the server types each answer on standard input (seed 001, seed 004's 模拟聊天). */
    replyFromConsole: z.boolean().default(false),
    /** Messages waiting for a typed answer, from all clients; past it a TCP client is closed, a datagram dropped. */
    maxWaitingReplies: z.number().int().positive().default(100),
    /** `event-loop` (default) or `fork`: one process per TCP connection, like ForkingTCPServer. */
    model: z.enum(['event-loop', 'fork']).default('event-loop'),
    /** Children alive at once in the fork model. */
    maxProcesses: z.number().int().positive().default(64),
    ...streamLimitsSchema,
  })
  .strict()
  .refine((c) => !(c.reply !== undefined && c.prefix !== undefined), { message: 'choose one of reply and prefix, not both', path: ['reply'] })
  .refine((c) => !(c.replyFromConsole && (c.reply !== undefined || c.prefix !== undefined)), { message: 'the console types the answers: no reply or prefix with replyFromConsole', path: ['replyFromConsole'] })
  .refine((c) => !(c.replyFromConsole && c.model === 'fork'), { message: 'the console answers from one process: replyFromConsole needs the event-loop model', path: ['replyFromConsole'] })
  .refine((c) => c.tcp || c.udp, { message: 'at least one of tcp and udp must be on', path: ['tcp'] });

export type EchoConfig = z.infer<typeof echoConfigSchema>;

export interface EchoHandlerOptions {
  mode: EchoMode;
  framing: EchoFraming;
  maxLineBytes: number;
  greeting?: string | undefined;
  once?: boolean;
  print?: PrintStyle | undefined;
}

/** What a handler in this process may use besides its plain options (not for fork children). */
export interface EchoHandlerHooks {
  /** Where `print` writes (default process.stdout). */
  printTo?: NodeJS.WritableStream;
  /** The operator answers each message (`--reply-from-console`). */
  console?: ConsoleReplies;
}

const LF = Buffer.from('\n');

/**
 * The TCP side of echo. In pure echo mode every chunk goes straight back (the fast path the
 * benchmarks measure: one write per read, nothing copied). In the reply modes each message
 * gets its answer; `##` ends the session as in the seeds. A greeting goes out before anything
 * is read; with `once` the first answer is the last.
 */
export function createEchoHandler(options: EchoHandlerOptions, hooks: EchoHandlerHooks = {}): (connection: Connection) => StreamHandler {
  const { mode, framing, maxLineBytes, greeting, once = false, print } = options;
  const { console: operator } = hooks;
  const out = hooks.printTo ?? process.stdout;
  const replyModes = mode.kind !== 'echo' || operator !== undefined;
  if (!replyModes && !once && !print) {
    return (connection) => {
      if (greeting !== undefined) connection.write(greeting);
      return { data: (chunk) => void connection.write(chunk) };
    };
  }
  return (connection) => {
    if (greeting !== undefined) connection.write(greeting);
    const peer = { address: connection.remoteAddress, port: connection.remotePort };
    let answered = false;
    const finish = (answer: Buffer) => {
      connection.write(answer);
      if (once) connection.end();
    };
    const handle = (message: Buffer) => {
      if (answered) return;
      if (replyModes && isEndMarker(message)) return connection.end();
      if (once) answered = true;
      if (operator) {
        const queued = operator.add({ peer, message, respond: (answer) => !connection.closed && (finish(answer), true), gone: () => connection.closed });
        if (!queued) connection.end();
        return;
      }
      if (print) out.write(`${printLine(print, peer, message, new Date())}\n`);
      finish(answerFor(mode, message));
    };
    if (framing === 'raw' || !replyModes) return { data: handle };
    return framed(connection, new LineDecoder({ maxLineBytes, output: 'buffer', stripCarriageReturn: false }), {
      frame: (line) => handle(Buffer.concat([line, LF])),
      // A line over the limit: say why before closing, so `nc` users are not left guessing.
      codecError: (error) => void connection.write(`error: ${error.message}\n`),
    });
  };
}

/** Export for the fork model: the child process builds its handler from plain options. */
export const forkEchoHandler = (options: EchoHandlerOptions) => createEchoHandler(options);

export interface EchoStartOptions {
  /** Where `print` and the console's messages go (default process.stdout). */
  printTo?: NodeJS.WritableStream;
  /** Where the typed answers of `replyFromConsole` come from (default process.stdin). */
  consoleInput?: NodeJS.ReadableStream;
}

/** Start echo with explicit streams (tests, embedders); the service definition calls this. */
export async function startEcho(ctx: ServiceContext, config: EchoConfig, options: EchoStartOptions = {}): Promise<RunningService> {
  const mode = modeFrom(config);
  const print = config.print === 'off' ? undefined : config.print;
  const handlerOptions: EchoHandlerOptions = { mode, framing: config.framing, maxLineBytes: config.maxLineBytes, greeting: config.greeting, once: config.once, print };
  const printTo = options.printTo ?? process.stdout;
  const operator = config.replyFromConsole ? new ConsoleReplies(printTo, config.maxWaitingReplies) : undefined;
  let consoleReader: ConsoleReader | undefined;
  const stops: Array<(deadlineMs?: number) => Promise<void>> = [];
  const addresses: ListeningAddress[] = [];
  try {
    if (config.tcp) {
      if (config.model === 'fork') {
        const server = await ForkingServer.listen({
          host: config.host,
          port: config.port,
          handlerModule: import.meta.url,
          handlerExport: 'forkEchoHandler',
          handlerOptions,
          maxChildren: config.maxProcesses,
          idleTimeoutMs: config.idleTimeoutMs,
          logger: ctx.logger,
          metrics: ctx.metrics,
        });
        addresses.push(...server.addresses);
        stops.push((deadline) => server.stop(deadline));
      } else {
        const server = await listenStreamService(config, ctx, { port: config.port, onConnection: createEchoHandler(handlerOptions, { printTo, console: operator }) });
        addresses.push(...server.addresses);
        stops.push((deadline) => server.stop(deadline));
      }
    }
    if (config.udp) {
      // With port 0, UDP takes the same number TCP got, so one port answers both ways.
      const tcpPort = addresses[0]?.port;
      const udp = await DatagramServer.bind({
        host: config.host,
        port: config.port === 0 && tcpPort !== undefined ? tcpPort : config.port,
        logger: ctx.logger,
        metrics: ctx.metrics,
        // RFC 862 echo is the classic reflector: the guard keeps it from answering another responder.
        guard: { ownPorts: hostUdpPorts(ctx) },
        onMessage(message, peer, server) {
          if (operator) {
            operator.add({ peer, message, respond: (answer) => (server.reply(peer, answer), true), gone: () => false });
            return;
          }
          if (print) printTo.write(`${printLine(print, peer, message, new Date())}\n`);
          server.reply(peer, answerFor(mode, message));
        },
      });
      addresses.push(...udp.addresses);
      stops.push(() => udp.stop());
    }
    if (operator) {
      consoleReader = readConsoleLines((line) => operator.typed(line), { input: options.consoleInput, logger: ctx.logger });
      ctx.logger.info('echo console: each message is shown here; type its answer and press Enter');
    }
  } catch (error) {
    await Promise.all(stops.map((stop) => stop(0)));
    throw error;
  }
  return {
    name: 'echo',
    addresses,
    clientCommands: () => echoClientCommands(addresses),
    async stop(deadlineMs) {
      consoleReader?.close();
      await Promise.all(stops.map((stop) => stop(deadlineMs)));
    },
  };
}

/** netcat, the standard client of an echo server (the portal's home page lists these). */
function echoClientCommands(addresses: readonly ListeningAddress[]): ClientCommand[] {
  const commands: ClientCommand[] = [];
  const tcp = addresses.find((address) => address.transport === 'tcp');
  const udp = addresses.find((address) => address.transport === 'udp');
  if (tcp !== undefined) commands.push({ summary: 'send a line over TCP, read it back', command: `echo hi | nc -N ${tcp.address} ${tcp.port}` });
  if (udp !== undefined) commands.push({ summary: 'send a datagram, read it back', command: `echo hi | nc -u -w1 ${udp.address} ${udp.port}` });
  return commands;
}

export const echoService: ServiceDefinition<EchoConfig> = {
  name: 'echo',
  summary: "RFC 862 echo over TCP and UDP, with the seeds' reply, greeting, one-message, printing and console-answer modes",
  configSchema: echoConfigSchema,
  start: (ctx, config) => startEcho(ctx, config),
};
