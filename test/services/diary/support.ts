import dgram from 'node:dgram';
import { once } from 'node:events';
import type { Kysely } from 'kysely';
import type { DiarySchema } from '../../../src/store/migrations/0002-diary.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { DiaryServer, diaryConfigSchema, type DiaryConfig } from '../../../src/services/diary/server.js';
import { DiaryClient, type DiaryClientOptions } from '../../../src/services/diary/client.js';
import { testDatabases, type FreshDatabase, type TestDatabase } from '../../store/databases.js';

export const sqlite: TestDatabase = testDatabases.find((d) => d.dialect === 'sqlite')!;

/** Everything a test started, closed by `stopAll()` in afterEach. */
const running: Array<() => Promise<void>> = [];

export async function stopAll(): Promise<void> {
  for (const stop of running.splice(0).reverse()) await stop().catch(() => undefined);
}

export interface DiaryFixture {
  store: Store;
  server: DiaryServer;
  port: number;
  fresh: FreshDatabase;
}

/** A store on `database` and a diary server on 127.0.0.1, port 0. */
export async function startDiary(
  overrides: Partial<Record<keyof DiaryConfig, unknown>> = {},
  database: TestDatabase = sqlite,
  existing?: { store: Store; fresh: FreshDatabase },
): Promise<DiaryFixture> {
  let fresh: FreshDatabase;
  let store: Store;
  if (existing) {
    ({ fresh, store } = existing);
  } else {
    const made = await database.fresh();
    fresh = made;
    running.push(() => made.drop());
    const opened = await openStore({ dataDir: fresh.dataDir, url: fresh.url });
    store = opened;
    running.push(() => opened.close());
  }
  const server = await DiaryServer.start({ store, config: diaryConfigSchema.parse({ port: 0, timeZone: 'UTC', ...overrides }) });
  running.push(() => server.stop());
  return { store, server, port: server.port, fresh };
}

export async function openClient(port: number, options: DiaryClientOptions = {}): Promise<DiaryClient> {
  const client = await DiaryClient.connect({ port, timeoutMs: 5_000, retransmitMs: 50, ...options });
  running.push(() => client.close());
  return client;
}

/** A plain UDP socket, as a seed client has. */
export interface SeedSocket {
  socket: dgram.Socket;
  /** Send a datagram and wait for the next one back. */
  ask(payload: string | Buffer, timeoutMs?: number): Promise<string>;
  send(payload: string | Buffer): void;
  /** Datagrams received so far (for floods). */
  received: Buffer[];
}

export async function seedSocket(port: number, host = '127.0.0.1'): Promise<SeedSocket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  running.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  const received: Buffer[] = [];
  socket.on('message', (message) => received.push(message));
  return {
    socket,
    received,
    send: (payload) => socket.send(payload, port, '127.0.0.1'),
    async ask(payload, timeoutMs = 5_000) {
      const answer = once(socket, 'message', { signal: AbortSignal.timeout(timeoutMs) });
      socket.send(payload, port, '127.0.0.1');
      const [message] = (await answer) as [Buffer];
      return message.toString();
    },
  };
}

/** Rows of the diary table, oldest first. */
export async function allEntries(store: Store): Promise<Array<{ id: number; diary: string; text: string; client_id: string | null; seq: number | null; account: string | null; address: string | null }>> {
  const rows = await (store.db as unknown as Kysely<DiarySchema>)
    .selectFrom('diary_entries')
    .select(['id', 'diary', 'text', 'client_id', 'seq', 'account', 'address'])
    .orderBy('id')
    .execute();
  return rows.map((row) => ({ ...row, id: Number(row.id), seq: row.seq === null ? null : Number(row.seq) }));
}
