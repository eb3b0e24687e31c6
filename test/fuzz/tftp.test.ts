import dgram from 'node:dgram';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tftpGet } from '../../src/services/tftp/client.js';
import { formatAck, formatData, formatError, formatOack, formatRequest } from '../../src/services/tftp/protocol.js';
import { tftpConfigSchema, tftpService } from '../../src/services/tftp/server.js';
import { fuzz, LogWatch, selected, startHosted, testTimeoutMs, type HostedService } from './harness.js';

const FILE = Buffer.from('TFTP fuzz target\n'.repeat(100));

/** Every packet type, with and without the RFC 2347–2349 and 7440 options. */
const SEEDS = [
  formatRequest('RRQ', 'hello.txt', 'octet'),
  formatRequest('RRQ', 'hello.txt', 'netascii'),
  formatRequest('RRQ', 'hello.txt', 'octet', [
    { name: 'blksize', value: '1468' },
    { name: 'tsize', value: '0' },
    { name: 'windowsize', value: '4' },
    { name: 'timeout', value: '1' },
  ]),
  formatRequest('RRQ', 'sub/../hello.txt', 'octet'),
  formatRequest('WRQ', 'upload.bin', 'octet', [{ name: 'tsize', value: '1000' }]),
  formatData(1, Buffer.from('some data')),
  formatAck(0),
  formatAck(1),
  formatError(0, 'client gave up'),
  formatOack([{ name: 'blksize', value: '512' }]),
];

const opcode = (message: Buffer): number => (message.length >= 2 ? message.readUInt16BE(0) : -1);

/**
 * Requests go to the server's port; everything else goes to the port of the transfer the
 * batch started last (a transfer answers from a port of its own), so that mutated DATA, ACK and
 * ERROR packets reach a transfer's state machine, not only the listener's.
 */
async function deliverToTransfers(port: number, messages: Buffer[]): Promise<void> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let transferPort: number | undefined;
  socket.on('message', (_message, from) => {
    if (from.port !== port) transferPort = from.port;
  });
  for (const message of messages) {
    const request = opcode(message) === 1 || opcode(message) === 2;
    socket.send(message, request || transferPort === undefined ? port : transferPort, '127.0.0.1');
    // A moment for the transfer's first answer, so the packets after it know its port.
    await new Promise((resolve) => setTimeout(resolve, request ? 5 : 1));
  }
  await new Promise((resolve) => setTimeout(resolve, 30));
  socket.close();
}

const logs = new LogWatch();
let tftp: HostedService;

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-fuzz-tftp-'));
  await writeFile(join(root, 'hello.txt'), FILE);
  // Short retransmission so that the transfers the fuzzer abandons give their slots back within a second.
  const config = tftpConfigSchema.parse({ port: 0, root, allowWrite: true, maxUploadBytes: 1024 * 1024, timeoutMs: 100, maxTimeoutMs: 200, retries: 2 });
  tftp = await startHosted(tftpService, config, logs);
});
afterAll(() => tftp?.host.stop(500));

describe('fuzzing tftp', () => {
  it.runIf(selected('tftp'))('tftp survives mutated packets, to the listener and to live transfers', { timeout: testTimeoutMs() }, async () => {
    const port = tftp.port('udp');
    const report = await fuzz(
      {
        name: 'tftp',
        seeds: SEEDS,
        maxMessageBytes: 65_507,
        deliver: (messages) => deliverToTransfers(port, messages),
        async healthy() {
          const chunks: Buffer[] = [];
          const sink = new Writable({
            write(chunk: Buffer, _encoding, done) {
              chunks.push(chunk);
              done();
            },
          });
          await tftpGet({ host: '127.0.0.1', port, timeoutMs: 500, retries: 3 }, 'hello.txt', sink);
          expect(Buffer.concat(chunks).equals(FILE)).toBe(true);
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });
});
