/**
 * A web server in its own process, for measuring its memory under hostile peers: started by
 * memory.test.ts with `node --expose-gc --import tsx`. argv[2] is the JSON config; it prints
 * `{"port":N}` once listening, and for each `mem` line on stdin, after a full GC, its
 * `process.memoryUsage()` as a JSON line.
 */
import { createInterface } from 'node:readline';
import { silentLogger } from '../../../src/core/logger.js';
import { serviceContext } from '../../../src/core/service.js';
import { startWeb, webConfigSchema } from '../../../src/services/web/server.js';

const config = webConfigSchema.parse({ port: 0, accessLog: 'off', ...(JSON.parse(process.argv[2] ?? '{}') as object) });
const server = await startWeb(serviceContext({ name: 'web', logger: silentLogger(), dataDir: process.cwd() }), config);
process.stdout.write(`${JSON.stringify({ port: server.addresses[0]?.port })}\n`);
const gc = (globalThis as { gc?: () => void }).gc;
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'mem') break;
  gc?.();
  process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`);
}
await server.stop(500);
