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

export { echoService, createEchoHandler, type EchoConfig } from './services/echo/server.js';
export { EchoClient, echoOverUdp } from './services/echo/client.js';
export * as echoProtocol from './services/echo/protocol.js';
export * from './services/tftp/index.js';
export { webService, webConfigSchema, startWebServer, type WebConfig, type WebConfigInput } from './services/web/server.js';
export { WebServer, type WebServerOptions } from './services/web/web-server.js';
export * as webProtocol from './services/web/protocol.js';
export * from './services/diary/index.js';
export { dictService, dictConfigSchema, createDictHandler, createDictState, type DictConfig, type DictConfigInput } from './services/dict/server.js';
export { DictClient, DictError, type DictClientOptions, type MatchResult } from './services/dict/client.js';
export { DictdDatabase, writeDictdDatabase } from './services/dict/dictd-format.js';
export { DictzipReader } from './services/dict/dictzip.js';
export { WordNetDatabase } from './services/dict/wordnet.js';
export { DatabaseSet, loadDatabases, openDatabase, type DatabaseSource } from './services/dict/databases.js';
export { HeadwordIndex, STRATEGIES as DICT_STRATEGIES } from './services/dict/headwords.js';
export type { DictDatabase } from './services/dict/database.js';
export * as dictProtocol from './services/dict/protocol.js';
export { chatService, chatConfigSchema, startChat, type ChatConfig, type RunningChat, type ChatStats } from './services/chat/server.js';
export { ChatClient, SeedChatClient, ChatError, type ChatClientOptions } from './services/chat/client.js';
export { InProcessRoomBus, type RoomBus, type RoomEvent, type MemberInfo } from './services/chat/room.js';
export { MemoryHistory, SqlHistory, type HistoryStore } from './services/chat/history.js';
export * as chatProtocol from './services/chat/protocol.js';
export * from './services/ftp/index.js';
export { discoveryService, discoveryConfigSchema, DEFAULT_DISCOVERY_PORT, type DiscoveryConfig, type DiscoveryRunningService } from './services/discovery/server.js';
export { discover, type DiscoverOptions, type FoundServer } from './services/discovery/client.js';
export * as discoveryProtocol from './services/discovery/protocol.js';
