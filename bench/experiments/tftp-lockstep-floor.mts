/**
 * Where does lockstep TFTP speed go? curl downloads one 32 MiB file, lockstep, from:
 *   - atftpd              the anchor (C, a thread per transfer, pselect + recvmsg + sendto);
 *   - C floor             the least a C server can do (tftp-floor-server.c: poll, recv, send);
 *   - Node floor          the least a Node server can do (tftp-floor-server.mjs: every packet
 *                         prebuilt, a connected socket, one send per ACK);
 *   - Node floor, spin    the same, keeping the event loop awake 50 us after each send;
 *   - wharf, no spin      `wharf tftp serve --busy-poll 0`;
 *   - wharf               `wharf tftp serve` (busy polling on, 50 us).
 *
 *   node --import tsx bench/experiments/tftp-lockstep-floor.mts [BLKSIZE] [ROUNDS] [ONLY]
 *
 * ONLY: a comma-separated list of the servers to run, by key (atftpd, c, node, node-spin,
 * wharf-0, wharf), e.g. `atftpd,wharf`; atftpd always runs, as the yardstick.
 *
 * After a second of warm-up transfers each, transfers alternate between the servers, one at a
 * time; each figure is the median of ROUNDS (default 7) transfers as curl itself times them (%{time_total}: no process start-up), and
 * each ratio is to atftpd. Docs: docs/tftp.md ("Lockstep speed") and docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileC } from '../lib/c-build.js';
import { tmpDir } from '../lib/paths.js';
import { freePort, killAll, run, startServer, type ServerProcess, type ServerSpec } from '../lib/processes.js';
import { median } from '../lib/stats.js';
import { ensureWharfBuilt } from '../lib/wharf.js';

const BLOCK_SIZE = Number(process.argv[2] ?? 512);
const ROUNDS = Number(process.argv[3] ?? 7);
const ONLY = process.argv[4]?.split(',');
const SIZE = 32 * 1024 * 1024;
// atftpd drops to `nobody`: the folder must not be under a private home.
const root = join(tmpdir(), 'wharf-bench-tftp-floor');
mkdirSync(root, { recursive: true });
writeFileSync(join(root, 'file.bin'), randomBytes(SIZE));

const build = await ensureWharfBuilt(false);
if (!build.ok) throw new Error(build.reason);
const cFloor = await compileC(join(import.meta.dirname, 'tftp-floor-server.c'));
const nodeFloor = join(import.meta.dirname, 'tftp-floor-server.mjs');
const wharf = (port: number, spin: number): string[] => [build.cli, 'tftp', 'serve', '--port', String(port), '--root', root, '--data', join(tmpDir, 'floor-data'), '--log-level', 'warn', '--busy-poll', String(spin)];

const allContenders: Array<{ key: string; title: string; spec: (port: number) => Omit<ServerSpec, 'ready'> }> = [
  { key: 'atftpd', title: 'atftpd', spec: (port) => ({ name: 'atftpd', command: 'atftpd', args: ['--daemon', '--no-fork', '--port', String(port), '--bind-address', '127.0.0.1', '--logfile', '/dev/null', root] }) },
  { key: 'c', title: 'C floor', spec: (port) => ({ name: 'c-floor', command: cFloor, args: [String(port), join(root, 'file.bin')] }) },
  { key: 'node', title: 'Node floor', spec: (port) => ({ name: 'node-floor', command: process.execPath, args: [nodeFloor, String(port), join(root, 'file.bin'), '0'] }) },
  { key: 'node-spin', title: 'Node floor, spin 50 us', spec: (port) => ({ name: 'node-floor-spin', command: process.execPath, args: [nodeFloor, String(port), join(root, 'file.bin'), '50'] }) },
  { key: 'wharf-0', title: 'wharf, --busy-poll 0', spec: (port) => ({ name: 'wharf-0', command: process.execPath, args: wharf(port, 0) }) },
  { key: 'wharf', title: 'wharf (default, 50 us)', spec: (port) => ({ name: 'wharf', command: process.execPath, args: wharf(port, 50) }) },
];
const contenders = allContenders.filter((c) => ONLY === undefined || c.key === 'atftpd' || ONLY.includes(c.key));

async function download(port: number): Promise<number> {
  const result = await run('curl', ['-s', '-S', '--tftp-blksize', String(BLOCK_SIZE), '-o', '/dev/null', '-w', '%{time_total}', `tftp://127.0.0.1:${port}/file.bin`], { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`curl exited ${result.code}: ${result.stderr}`);
  return SIZE / 1e6 / Number(result.stdout);
}

const servers: Array<{ title: string; port: number; server: ServerProcess }> = [];
try {
  for (const contender of contenders) {
    const port = await freePort();
    // Every one of them answers a stray datagram somehow (an ERROR, or a DATA): that is "ready".
    servers.push({ title: contender.title, port, server: await startServer({ ...contender.spec(port), ready: { udpEcho: port } }) });
  }
  // Warm up each for a second of transfers: page cache, wharf's file cache and, above all, V8's
  // optimizing compiler (from a fresh start, wharf's first ten transfers at blksize 65464 ramp
  // from 300 to 1,000 MB/s). The C floor first sits out its ready probe.
  for (const { port } of servers) {
    for (let spent = 0; spent < 1; ) spent += (SIZE / 1e6) / (await download(port));
  }
  const rates = new Map<string, number[]>(servers.map((s) => [s.title, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { title, port } of servers) rates.get(title)!.push(await download(port));
  }
  const anchor = median(rates.get('atftpd')!);
  console.log(`curl, 32 MiB, blksize ${BLOCK_SIZE}, lockstep; median of ${ROUNDS} transfers each`);
  for (const [title, list] of rates) {
    const m = median(list);
    console.log(`${title.padEnd(24)} ${m.toFixed(1).padStart(7)} MB/s  ${(m / anchor).toFixed(2)}x atftpd   (${list.map((r) => r.toFixed(1)).join(' ')})`);
  }
} finally {
  for (const { server } of servers) await server.stop();
  killAll();
}
