import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, SeedChatClient } from '../../src/services/chat/client.js';
import { encodeFrame, type ClientFrame } from '../../src/services/chat/protocol.js';
import { chatConfigSchema, chatService } from '../../src/services/chat/server.js';
import { fuzz, LogWatch, selected, startHosted, testTimeoutMs, type HostedService } from './harness.js';
import { sendDatagrams, sendStreams } from './transports.js';

/** The seed's chat datagrams (S5): login, chat, exit, the reserved admin name, Chinese text. */
const UDP_SEEDS = ['L alice', 'C alice hello there', 'E alice', 'L 管理员', 'C alice 你好，世界', 'L bob', 'C bob  two  spaces ', 'X unknown'].map((s) => Buffer.from(s));

const frames = (...list: ClientFrame[]): Buffer => Buffer.concat(list.map((frame) => encodeFrame(frame)));

/** wharf's own chat sessions: 4-byte length, then JSON, one frame per request. */
const TCP_SEEDS = [
  frames({ type: 'hello', v: 1, name: 'carol' }, { type: 'say', id: 1, text: 'hi all' }, { type: 'who', id: 2 }, { type: 'bye', id: 3 }),
  frames({ type: 'hello', v: 1, name: 'dave', room: 'lobby', since: 0 }, { type: 'history', id: 1, limit: 50, before: 10 }, { type: 'ping', id: 2 }),
  frames({ type: 'hello', v: 1, name: 'erin', password: 'secret', resume: 'token' }, { type: 'join', id: 1, room: 'other', since: 3 }, { type: 'pm', id: 2, to: 'carol', text: '你好' }),
  frames({ type: 'hello', v: 1, name: 'frank' }, { type: 'say', id: 1, text: 'x'.repeat(3_000), cid: 'c-1' }),
];

const logs = new LogWatch();
let chat: HostedService;

beforeAll(async () => {
  // Rate limits off, so that every fuzz message is parsed rather than dropped at the door.
  const config = chatConfigSchema.parse({ port: 0, tcpPort: 0, console: 'off', history: 'memory', udpSend: 'inline', ratePerSecond: 100_000, rateBurst: 100_000 });
  chat = await startHosted(chatService, config, logs);
});
afterAll(() => chat?.host.stop(500));

let healthChecks = 0;

describe('fuzzing chat', () => {
  it.runIf(selected('chat udp'))('chat udp (the seed protocol) survives mutated datagrams', { timeout: testTimeoutMs() }, async () => {
    const port = chat.port('udp');
    const report = await fuzz(
      {
        name: 'chat udp',
        seeds: UDP_SEEDS,
        maxMessageBytes: 65_507,
        deliver: (messages) => sendDatagrams(messages, { port }),
        async healthy() {
          const client = await SeedChatClient.connect({ port });
          try {
            expect(await client.login(`checker${++healthChecks}`)).toBe(true);
          } finally {
            await client.close();
          }
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });

  it.runIf(selected('chat tcp'))('chat tcp (length-prefixed JSON) survives mutated sessions', { timeout: testTimeoutMs() }, async () => {
    const port = chat.port('tcp');
    const report = await fuzz(
      {
        name: 'chat tcp',
        seeds: TCP_SEEDS,
        deliver: (messages) => sendStreams(messages, { port }),
        async healthy() {
          const client = new ChatClient({ port, name: `checker${++healthChecks}`, reconnect: false, timeoutMs: 4_000 });
          try {
            await client.connect();
            expect((await client.who()).length).toBeGreaterThan(0);
          } finally {
            await client.close();
          }
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });
});

describe('found by the fuzzer in chat', () => {
  // Zero bytes are frames of length 0, each a bad request. After MAX_BAD_FRAMES (10) the server
  // ended the connection but went on decoding, JSON-parsing and answering every remaining frame,
  // and reading: 1 MiB of zeros stalled the event loop 2.6 s; 4 MiB was still open after 10 s.
  it('drops a TCP client that sends 4 MiB of empty frames, within 3 s', async () => {
    const socket = net.connect({ port: chat.port('tcp'), host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.resume();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(Buffer.alloc(4 * 1024 * 1024));
    try {
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('still open after 3 s')), 3_000))]);
    } finally {
      socket.destroy();
    }
  });
});
