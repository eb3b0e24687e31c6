/**
 * The child side of ForkingServer: receives one socket, serves it with the named handler, exits.
 * Runs as its own process entry point, so it imports only what it needs.
 */
import type { Socket } from 'node:net';
import { SocketConnection, type Connection, type StreamHandler } from './connection.js';
import type { ForkChildMessage, ForkCountersMessage } from './fork-server.js';
import { ServiceMetrics } from './metrics.js';

type HandlerFactory = (options: unknown) => (connection: Connection) => StreamHandler;

let connection: SocketConnection | undefined;

process.on('message', (message: ForkChildMessage, socket?: Socket) => {
  if (message?.type !== 'wharf-fork-connection' || !socket) return;
  void (async () => {
    const module = (await import(message.handlerModule)) as Record<string, unknown>;
    const factory = module[message.handlerExport] as HandlerFactory | undefined;
    if (typeof factory !== 'function') {
      process.stderr.write(`wharf: ${message.handlerModule} has no export ${message.handlerExport}\n`);
      socket.destroy();
      process.exit(1);
    }
    const makeHandler = factory(message.handlerOptions);
    const metrics = new ServiceMetrics('fork');
    connection = new SocketConnection(
      socket,
      {
        writeHighWaterBytes: 1024 * 1024,
        maxWriteQueueBytes: 16 * 1024 * 1024,
        idleTimeoutMs: message.idleTimeoutMs,
      },
      { metrics },
    );
    const handler = makeHandler(connection);
    connection.attach({
      data: (chunk) => handler.data(chunk),
      end: handler.end ? () => handler.end?.() : undefined,
      shutdown: handler.shutdown ? () => handler.shutdown?.() : undefined,
      timeout: handler.timeout ? () => handler.timeout?.() : undefined,
      close(error) {
        handler.close?.(error);
        // The bytes were counted here, in this process: the parent's counters need them.
        const counters: ForkCountersMessage = { type: 'wharf-fork-counters', bytesIn: metrics.bytesIn, bytesOut: metrics.bytesOut, errors: metrics.errors };
        if (process.connected) process.send?.(counters, () => process.exit(0));
        else process.exit(0);
      },
    });
    socket.resume();
    // The parent no longer needs to reach us; without this the IPC channel keeps us alive.
    process.channel?.unref();
  })().catch((error: unknown) => {
    process.stderr.write(`wharf: connection process failed: ${String(error)}\n`);
    process.exit(1);
  });
});

process.on('SIGTERM', () => {
  if (connection) connection.shutdown();
  else process.exit(0);
  setTimeout(() => process.exit(0), 5_000).unref();
});
