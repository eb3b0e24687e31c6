import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';

/**
 * A peer that sends and never reads must not be able to grow a server's memory past the
 * connection's write bound (docs/security.md: 1 MiB high-water, then reading stops; 16 MiB
 * hard limit, then the peer is dropped). Each test runs the real `wharf` in a child process,
 * floods it from several connections that never read, and checks the child's resident memory
 * and that a well-behaved client is still answered.
 */

const ATTACKERS = 4;
const ATTACK_MS = 2_500;
/** Resident growth the child may show under the whole attack: the write bound of four peers plus slack for V8. */
const RSS_GROWTH_BOUND = 96 * 1024 * 1024;

function residentBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/** Open a connection that writes `payload` as fast as TCP lets it, for `ms`, and never reads. */
function floodWithoutReading(port: number, payload: Buffer, ms: number): Promise<{ sentBytes: number; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.pause(); // never read: what the server sends stays in its queue or the kernel's
    socket.on('error', () => undefined); // the server may drop us; that is allowed
    let sentBytes = 0;
    let stopped = false;
    const pump = (): void => {
      while (!stopped && !socket.destroyed) {
        sentBytes += payload.length;
        if (!socket.write(payload)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.once('connect', pump);
    setTimeout(() => {
      stopped = true;
      resolve({ sentBytes, socket });
    }, ms);
  });
}

/** One request, one answer: read until `done` says the answer is complete. */
function ask(port: number, request: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within 10 s; got ${JSON.stringify(text.slice(0, 200))}`));
    }, 10_000);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      if (done(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.write(request);
  });
}

async function attack(server: RunningWharf, port: number, payload: Buffer): Promise<{ growth: number; sentBytes: number }> {
  const pid = server.child.pid!;
  const before = residentBytes(pid);
  const floods = await Promise.all(Array.from({ length: ATTACKERS }, () => floodWithoutReading(port, payload, ATTACK_MS)));
  const growth = residentBytes(pid) - before;
  for (const { socket } of floods) socket.destroy();
  return { growth, sentBytes: floods.reduce((sum, f) => sum + f.sentBytes, 0) };
}

describe('a peer that never reads', () => {
  let server: RunningWharf | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('cannot grow the echo server past its write bound, and others are still echoed', async () => {
    server = await startWharf(['echo', 'serve', '--port', '0', '--data', tempDataDir()], { expectLines: 2 });
    const port = server.port('echo', 'tcp');
    const { growth, sentBytes } = await attack(server, port, Buffer.alloc(64 * 1024, 'x'));
    // Without back-pressure every byte sent would be queued for the echo: the bound must hold
    // although the attackers were free to send more than it.
    expect(growth).toBeLessThan(RSS_GROWTH_BOUND);
    expect(await ask(port, 'still here\n', (t) => t.includes('\n'))).toBe('still here\n');
    expect(sentBytes).toBeGreaterThan(0);
  });

  it('cannot grow the dict server with pipelined look-ups it never reads, and others are still answered', async () => {
    server = await startWharf(['dict', 'serve', '--port', '0', '--data', tempDataDir()], { expectLines: 1, timeoutMs: 30_000 });
    const port = server.port('dict', 'tcp');
    // Load the dictionary first, so that what is measured is the attack and not the first look-up.
    await ask(port, 'DEFINE * set\r\nQUIT\r\n', (t) => /^221 /m.test(t));
    // Each DEFINE answers with kilobytes of WordNet text: the reply is far larger than the request.
    const { growth } = await attack(server, port, Buffer.from('DEFINE * set\r\n'.repeat(4096)));
    expect(growth).toBeLessThan(RSS_GROWTH_BOUND);
    const answer = await ask(port, 'DEFINE * dog\r\nQUIT\r\n', (t) => /^221 /m.test(t));
    expect(answer).toMatch(/^150 /m);
    expect(answer).toMatch(/^250 /m);
  });
});
