import { z } from 'zod';
import { listenSchema, portSchema, streamLimitsSchema } from '../../core/config.js';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { ForkingServer } from '../../core/fork-server.js';
import type { RunningService, ServiceContext, ServiceDefinition } from '../../core/service.js';
import { StreamServer } from '../../core/tcp-server.js';
import { hostUdpPorts } from '../../core/udp-guard.js';
import { DatagramServer } from '../../core/udp-server.js';
import { LineDecoder } from '../../codec/index.js';
import { framed } from '../../core/framed.js';
import { answerFor, isEndMarker, modeFrom, type EchoFraming, type EchoMode } from './protocol.js';

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
    /** `event-loop` (default) or `fork`: one process per TCP connection, like ForkingTCPServer. */
    model: z.enum(['event-loop', 'fork']).default('event-loop'),
    /** Children alive at once in the fork model. */
    maxProcesses: z.number().int().positive().default(64),
    ...streamLimitsSchema,
  })
  .strict()
  .refine((c) => !(c.reply !== undefined && c.prefix !== undefined), { message: 'choose one of reply and prefix, not both', path: ['reply'] })
  .refine((c) => c.tcp || c.udp, { message: 'at least one of tcp and udp must be on', path: ['tcp'] });

export type EchoConfig = z.infer<typeof echoConfigSchema>;

export interface EchoHandlerOptions {
  mode: EchoMode;
  framing: EchoFraming;
  maxLineBytes: number;
}

const LF = Buffer.from('\n');

/**
 * The TCP side of echo. In pure echo mode every chunk goes straight back (the fast path the
 * benchmarks measure: one write per read, nothing copied). In the reply modes each message
 * gets its answer; `##` ends the session as in the seeds.
 */
export function createEchoHandler(options: EchoHandlerOptions): (connection: Connection) => StreamHandler {
  const { mode, framing, maxLineBytes } = options;
  if (mode.kind === 'echo') {
    return (connection) => ({ data: (chunk) => void connection.write(chunk) });
  }
  if (framing === 'raw') {
    return (connection) => ({
      data(chunk) {
        if (isEndMarker(chunk)) connection.end();
        else connection.write(answerFor(mode, chunk));
      },
    });
  }
  return (connection) =>
    framed(connection, new LineDecoder({ maxLineBytes, output: 'buffer', stripCarriageReturn: false }), {
      frame(line) {
        const message = Buffer.concat([line, LF]);
        if (isEndMarker(message)) connection.end();
        else connection.write(answerFor(mode, message));
      },
      // A line over the limit: say why before closing, so `nc` users are not left guessing.
      codecError: (error) => void connection.write(`error: ${error.message}\n`),
    });
}

/** Export for the fork model: the child process builds its handler from plain options. */
export const forkEchoHandler = (options: EchoHandlerOptions) => createEchoHandler(options);

export const echoService: ServiceDefinition<EchoConfig> = {
  name: 'echo',
  summary: 'RFC 862 echo over TCP and UDP, with the seeds\' fixed-reply and prefix modes',
  configSchema: echoConfigSchema,
  async start(ctx: ServiceContext, config: EchoConfig): Promise<RunningService> {
    const mode = modeFrom(config);
    const handlerOptions: EchoHandlerOptions = { mode, framing: config.framing, maxLineBytes: config.maxLineBytes };
    const stops: Array<(deadlineMs?: number) => Promise<void>> = [];
    const addresses = [];
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
          const server = await StreamServer.listen({
            host: config.host,
            port: config.port,
            maxConnections: config.maxConnections,
            maxConnectionsPerIp: config.maxConnectionsPerIp,
            idleTimeoutMs: config.idleTimeoutMs,
            writeHighWaterBytes: config.writeHighWaterBytes,
            maxWriteQueueBytes: config.maxWriteQueueBytes,
            logger: ctx.logger,
            metrics: ctx.metrics,
            onConnection: createEchoHandler(handlerOptions),
          });
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
            server.reply(peer, answerFor(mode, message));
          },
        });
        addresses.push(...udp.addresses);
        stops.push(() => udp.stop());
      }
    } catch (error) {
      await Promise.all(stops.map((stop) => stop(0)));
      throw error;
    }
    return {
      name: 'echo',
      addresses,
      async stop(deadlineMs) {
        await Promise.all(stops.map((stop) => stop(deadlineMs)));
      },
    };
  },
};
