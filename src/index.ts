/**
 * wharf's public API: the socket toolkit (core), the framing codecs, and each service's
 * definition and client for programs that embed them.
 */
export * from './core/errors.js';
export * from './core/logger.js';
export * from './core/metrics.js';
export * from './core/service.js';
export * from './core/config.js';
export * from './core/connection.js';
export * from './core/framed.js';
export * from './core/tcp-server.js';
export * from './core/udp-server.js';
export * from './core/fork-server.js';
export * from './core/client.js';
export * from './core/host.js';
export * from './core/cluster.js';
export * from './core/rate-limiter.js';
export * from './core/busy-poll.js';
export * from './core/connection-limiter.js';
export * from './core/deadline.js';
export * from './testing/index.js';
export * from './codec/index.js';

// Every service's index.ts: its config schema, start(ctx, config), definition, client and protocol.
export * from './services/echo/index.js';
export * from './services/tftp/index.js';
export * from './services/web/index.js';
export * from './services/diary/index.js';
export * from './services/dict/index.js';
export * from './services/chat/index.js';
export * from './services/ftp/index.js';
export * from './services/exec/index.js';
export * from './services/discovery/index.js';
