import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DatagramServer } from '../../src/core/udp-server.js';
import type { UnixDatagramServer } from '../../src/core/unix-datagram.js';
import { runTool, skipReason } from '../helpers/tools.js';

function addonMissing(): string | undefined {
  try {
    createRequire(import.meta.url)('node-unix-socket');
    return undefined;
  } catch {
    return 'the optional package node-unix-socket is not installed';
  }
}

const skip = skipReason('python3') ?? addonMissing();
const title = (what: string) => `${what}${skip ? ` (skipped: ${skip})` : ''}`;

// A socketserver.UnixDatagramServer client: it must bind a path of its own to be answered.
const pythonClient = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[2])
s.settimeout(3)
s.sendto(b'hello over a unix datagram', sys.argv[1])
sys.stdout.write(s.recv(65536).decode())
`;

describe('DatagramServer.bind({ path })', () => {
  let dir: string;
  let server: UnixDatagramServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-udg-'));
    const path = join(dir, 'echo.sock');
    server = await DatagramServer.bind({ path, onMessage: (message, peer, self) => self.reply(peer, message) });
    return path;
  };

  it.skipIf(skip !== undefined)(title('echoes a Python AF_UNIX SOCK_DGRAM client that bound its own path'), async () => {
    const path = await start();
    const result = await runTool('python3', ['-c', pythonClient, path, join(dir, 'client.sock')], { timeoutMs: 4_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('hello over a unix datagram');
  });

  it.skipIf(skip !== undefined)(title('replaces a stale socket file, refuses a live one, and removes its own on stop'), async () => {
    const path = await start();
    await expect(DatagramServer.bind({ path, onMessage: () => undefined })).rejects.toThrow(/already in use/);
    await server?.stop();
    server = undefined;
    // A crash leaves the file behind: simulate with a bound-then-forgotten socket file.
    await runTool('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])', path], { timeoutMs: 4_000 });
    expect(existsSync(path)).toBe(true);
    server = await DatagramServer.bind({ path, onMessage: () => undefined });
    await server.stop();
    server = undefined;
    expect(existsSync(path)).toBe(false);
  });

  it.skipIf(skip !== undefined)(title('drops a datagram the addon would have cut, and answers the next one'), async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-udg-'));
    const path = join(dir, 'echo.sock');
    const seen: number[] = [];
    server = await DatagramServer.bind({ path, onMessage: (message, peer, self) => { seen.push(message.length); self.reply(peer, message); } });
    const sendsBigThenSmall = pythonClient.replace("s.sendto(b'hello", "s.sendto(b'x' * 100000, sys.argv[1])\ns.sendto(b'hello");
    const result = await runTool('python3', ['-c', sendsBigThenSmall, path, join(dir, 'client.sock')], { timeoutMs: 4_000 });
    expect(result.stdout.toString()).toBe('hello over a unix datagram');
    expect(seen).toEqual([26]);
    expect(server.metrics.errors).toBe(1);
  });
});
