import { describe, expect, it } from 'vitest';
import { forkExecArgv, siblingModule, startModuleWorker } from '../../src/core/module-entry.js';

describe('siblingModule', () => {
  it('names the .ts beside a module run from the sources, with tsx for a forked child', () => {
    const entry = siblingModule('file:///repo/src/core/fork-server.ts', 'fork-child');
    expect(entry).toEqual({ path: '/repo/src/core/fork-child.ts', fromSources: true });
    expect(forkExecArgv(entry)).toEqual(['--import', 'tsx']);
  });

  it('names the .js beside a module run from dist/, with nothing more for a forked child', () => {
    const entry = siblingModule('file:///repo/dist/core/fork-server.js', 'fork-child');
    expect(entry).toEqual({ path: '/repo/dist/core/fork-child.js', fromSources: false });
    expect(forkExecArgv(entry)).toEqual([]);
  });
});

describe('startModuleWorker', () => {
  it('runs a TypeScript worker module from the sources', async () => {
    // The batching UDP transport's worker, started as the transport starts it, answers with its address.
    const entry = siblingModule(new URL('../../src/core/batched-udp-transport.ts', import.meta.url).href, 'batched-udp-worker');
    const worker = startModuleWorker(entry, {
      workerData: { host: '127.0.0.1', port: 0, receiveBufferBytes: 65_536, sendBufferBytes: 65_536, maxDatagramBytes: 1_000, maxSendQueue: 10 },
    });
    const first = await new Promise<{ t: string; address?: string; port?: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(first.t).toBe('ready');
    expect(first.address).toBe('127.0.0.1');
    expect(first.port).toBeGreaterThan(0);
    await worker.terminate();
  });
});
