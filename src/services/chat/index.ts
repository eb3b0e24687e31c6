/** The chat service's public API (re-exported by the package root): its config, start and definition, the clients, the room, the protocol. */
export { chatService, chatConfigSchema, startChat, type ChatConfig, type RunningChat, type ChatStats } from './server.js';
export { ChatClient, SeedChatClient, ChatError, type ChatClientOptions, type ChatErrorCode } from './client.js';
export { InProcessRoomBus, type RoomBus, type RoomEvent, type MemberInfo } from './room.js';
export { MemoryHistory, SqlHistory, type HistoryStore } from './history.js';
export * as chatProtocol from './protocol.js';
