import { storeMigrations } from '../../src/store/migrations/index.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { testDatabases } from './databases.js';

const WORKER = fileURLToPath(new URL('./fixtures/quota-worker.ts', import.meta.url));

interface Outcome {
  created: boolean;
  reserved: number;
  refused: number;
}

function startWorker(job: object): { child: ChildProcessWithoutNullStreams; ready: Promise<void>; done: Promise<Outcome> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(job)], { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('ready\n')) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<Outcome>((resolve, reject) => {
    child.once('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as Outcome);
      else reject(new Error(`worker exited with ${code}: ${stderr || stdout}`));
    });
  });
  return { child, ready, done };
}

for (const database of testDatabases) {
  describe.skipIf(!database.available)(`two worker processes on ${database.label}`, () => {
    it('migrate a fresh database together, create the account once, and never pass the quota', async () => {
      const fresh = await database.fresh();
      try {
        const job = { dataDir: fresh.dataDir, url: fresh.url, name: 'shared', quota: 1000, attempts: 70, bytes: 10 };
        const workers = [startWorker(job), startWorker(job)];
        await Promise.all(workers.map((worker) => worker.ready));
        for (const worker of workers) worker.child.stdin.end('go\n');
        const outcomes = await Promise.all(workers.map((worker) => worker.done));

        expect(outcomes.filter((outcome) => outcome.created)).toHaveLength(1);
        const reserved = outcomes.reduce((sum, outcome) => sum + outcome.reserved, 0);
        expect(reserved * 10).toBe(1000); // 140 attempts at 10 bytes for 1000: exactly 100 fit
        expect(outcomes.reduce((sum, outcome) => sum + outcome.refused, 0)).toBe(40);

        const store = await openStore({ dataDir: fresh.dataDir, url: fresh.url });
        expect(await store.quota.usage('shared')).toEqual({ quotaBytes: 1000, bytesUsed: 1000, freeBytes: 0 });
        expect(store.migrations).toEqual(storeMigrations.map(([name]) => name));
        await store.close();
      } finally {
        await fresh.drop();
      }
    });
  });
}
