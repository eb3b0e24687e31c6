/**
 * An FTP login recounts the account's quota use from the bytes on disk when no other FTP session
 * of the account is open (commands/access.ts). A portal upload's chunk reserves its bytes before
 * they are on disk: a recount in the middle forgot that reservation, and every such chunk then
 * went uncounted (a quota bypass by alternating portal chunks and FTP logins). Found in review.
 */
import http from 'node:http';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { ServiceMetrics } from '../../src/core/metrics.js';
import { PortalRegistry } from '../../src/core/portal.js';
import { serviceContext } from '../../src/core/service.js';
import { FtpClient } from '../../src/services/ftp/client.js';
import { ftpConfigSchema, startFtp, type FtpRunningService } from '../../src/services/ftp/server.js';
import { openStore, type Store } from '../../src/store/index.js';
import { serveSection, type SectionServer } from '../helpers/portal-section.js';
import { freePortRange } from '../services/ftp/support.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function start(): Promise<{ ftp: FtpRunningService; store: Store; api: SectionServer }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-portal-recount-'));
  const store = await openStore({ dataDir, accounts: { throttle: { baseDelayMs: 0, maxDelayMs: 0 } } });
  await store.accounts.add('alice', 'secret', { quota: 64 * 1024 * 1024 });
  const portal = new PortalRegistry();
  const ctx = serviceContext({ name: 'ftp', logger: silentLogger(), metrics: new ServiceMetrics('ftp'), dataDir, resources: { store }, portal });
  const ftp = await startFtp(ctx, ftpConfigSchema.parse({ host: '127.0.0.1', port: 0, passivePorts: await freePortRange(10) }));
  await mkdir(join(ftp.root, 'users', 'alice'), { recursive: true });
  const api = await serveSection(portal.get('files')!, { name: 'alice', admin: false });
  cleanup = async () => {
    await api.close();
    await ftp.stop(0);
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  return { ftp, store, api };
}

async function ftpLogin(port: number): Promise<void> {
  const client = await FtpClient.connect({ host: '127.0.0.1', port });
  await client.login('alice', 'secret');
  await client.quit();
}

describe('a portal upload and an FTP login at the same time', () => {
  it('keeps the chunk in flight counted in the quota', async () => {
    const { ftp, store, api } = await start();
    const size = 1024 * 1024;
    const begun = await fetch(`${api.base}/upload`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ path: '/big.bin', size }) });
    const { id } = (await begun.json()) as { id: string };
    // The chunk is announced (its bytes reserved), a first part arrives, then FTP logs in.
    const answered = new Promise<number>((resolve, reject) => {
      const request = http.request(`${api.base}/upload/${id}?offset=0`, { method: 'PUT', headers: { 'Content-Length': String(size) } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject);
      request.write(Buffer.alloc(1024, 1), async () => {
        await new Promise((r) => setTimeout(r, 100));
        try {
          await ftpLogin(ftp.port);
        } catch (error) {
          reject(error);
        }
        request.end(Buffer.alloc(size - 1024, 2));
      });
    });
    expect(await answered).toBe(200);
    const finished = await fetch(`${api.base}/upload/${id}/finish`, { method: 'POST' });
    expect(finished.status).toBe(200);
    // The file's bytes are all counted, whether or not the login recounted from the disk.
    expect((await store.quota.usage('alice')).bytesUsed).toBe(size);
    await ftpLogin(ftp.port);
    expect((await store.quota.usage('alice')).bytesUsed).toBe(size);
  });
});
