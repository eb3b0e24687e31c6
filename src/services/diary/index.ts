/** The diary service's public API, re-exported by the package root. */
export { diaryService, diaryConfigSchema, startDiary, DiaryServer, type DiaryConfig, type DiaryServerOptions } from './server.js';
export { DiaryClient, type DiaryClientOptions, type DiaryEntry, type WrittenEntry, type ReadOptions } from './client.js';
export { DiaryStore, PUBLIC_DIARY } from './diary-store.js';
export * as diaryProtocol from './protocol.js';
