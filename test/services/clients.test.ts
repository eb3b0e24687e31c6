import dgram from 'node:dgram';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceHost } from '../../src/core/host.js';
import { silentLogger } from '../../src/core/logger.js';
import { ChatClient, SeedChatClient } from '../../src/services/chat/client.js';
import { DiaryClient } from '../../src/services/diary/client.js';
import { DictClient } from '../../src/services/dict/client.js';
import { DiscoveryClient } from '../../src/services/discovery/client.js';
import { EchoClient } from '../../src/services/echo/client.js';
import { echoConfigSchema, echoService } from '../../src/services/echo/index.js';
import { ExecClient } from '../../src/services/exec/client.js';
import { FtpClient } from '../../src/services/ftp/client.js';
import { TftpClient } from '../../src/services/tftp/client.js';
import { WebClient } from '../../src/services/web/client.js';

const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((host) => host.stop(200)));
});

describe('every library client has one lifecycle', () => {
  it('is made by a static connect() and ended by an async close()', () => {
    const clients = { ChatClient, SeedChatClient, DiaryClient, DictClient, DiscoveryClient, EchoClient, ExecClient, FtpClient, TftpClient, WebClient };
    for (const [name, client] of Object.entries(clients)) {
      expect(typeof client.connect, name).toBe('function');
      expect((client.prototype.close as () => unknown).constructor.name, `${name}.prototype.close`).toBe('AsyncFunction');
    }
  });

  it('close() resolves once the connection is closed: the server has let go of it by then', async () => {
    const host = new ServiceHost({ logger: silentLogger(), dataDir: '/tmp' });
    hosts.push(host);
    const service = await host.start(echoService, echoConfigSchema.parse({ port: 0, udp: false }));
    const port = service.addresses[0]!.port;
    const client = await EchoClient.connect({ port });
    expect(await client.send('hello')).toBe('hello');
    expect(host.metrics.for('echo').connectionsOpen).toBe(1);
    await client.close();
    // The server sees the FIN and closes its side before the client's socket reports 'close'.
    expect(host.metrics.for('echo').connectionsOpen).toBe(0);
    await client.close(); // a second close is harmless
  });

  it("a TFTP client's close() ends a transfer in progress, and refuses new ones", async () => {
    // A server that never answers: the transfer would otherwise wait out its retries.
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const port = silent.address().port;
    try {
      const client = await TftpClient.connect({ host: '127.0.0.1', port, timeoutMs: 5_000, retries: 5 });
      const transfer = client.get('never.bin', new PassThrough()).catch((error: unknown) => error);
      const started = Date.now();
      await client.close();
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await transfer).toBeInstanceOf(Error);
      await expect(client.get('again.bin', '/dev/null')).rejects.toMatchObject({ code: 'ECLOSED' });
    } finally {
      silent.close();
    }
  });

  it('a TFTP client fails at connect() on a name that does not resolve', async () => {
    await expect(TftpClient.connect({ host: 'no-such-host.invalid' })).rejects.toMatchObject({ code: 'ENOHOST' });
  });
});
