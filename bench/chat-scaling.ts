/**
 * The chat on more than one process (part of `npm run bench -- chat`; docs/scaling.md):
 *
 *  - wharf's TCP room with 1,000 members, 10 of them talking: deliveries per second and p99
 *    latency at the highest swept rate where every message reached every member with p99 under a
 *    second, for one process, one process over Redis, two workers over Redis (`--workers 2`), and
 *    two nodes (two `wharf chat serve` processes on two ports) over Redis, the members split
 *    evenly between them;
 *  - the seed's UDP room (100 members, 10 talking): the loss-free ceiling of one process and of
 *    two workers over Redis.
 *
 * Redis is the machine's (WHARF_BENCH_REDIS_URL, default redis://127.0.0.1:6379), under a key
 * prefix of this run's own, deleted afterwards. Every cell is bounded in time (chat-load's
 * warm-up + duration + drain); a setup stops at its first cell that loses a message.
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { chatLoad, type ChatLoadResult, type Timing } from './chat.js';
import type { BenchOptions } from './lib/options.js';
import { tmpDir } from './lib/paths.js';
import { freePort, startServer, type ServerProcess } from './lib/processes.js';
import { benchCommand, describeMachine, machineInfo, writeSection } from './lib/report.js';
import { formatNumber, renderMarkdown, renderText, type Grid } from './lib/table.js';

const REDIS_URL = process.env.WHARF_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TCP_MEMBERS = 1_000;
const UDP_MEMBERS = 100;
const TCP_RATES = [25, 50, 100, 200, 400, 800, 1_600];
const UDP_RATES = [100, 150, 225, 340, 500, 750, 1_100, 1_700, 2_500, 3_800];

interface Setup {
  title: string;
  workers: number;
  nodes: number;
  redis: boolean;
}

const TCP_SETUPS: Setup[] = [
  { title: 'one process', workers: 1, nodes: 1, redis: false },
  { title: 'one process over Redis', workers: 1, nodes: 1, redis: true },
  { title: 'two workers over Redis (--workers 2)', workers: 2, nodes: 1, redis: true },
  { title: 'two nodes over Redis (two processes, two ports)', workers: 1, nodes: 2, redis: true },
];
const UDP_SETUPS: Setup[] = [
  { title: 'one process', workers: 1, nodes: 1, redis: false },
  { title: 'two workers over Redis (--workers 2)', workers: 2, nodes: 1, redis: true },
];

async function redisAnswers(): Promise<string | undefined> {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.close();
    return undefined;
  } catch (error) {
    client.destroy();
    return `no Redis at ${REDIS_URL} (${error instanceof Error ? error.message : String(error)})`;
  }
}

async function deletePrefix(prefix: string): Promise<void> {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1_000 })) if (keys.length > 0) await client.del(keys);
  await client.close();
}

/** Start the setup's processes; returns them with the port(s) members connect to. */
async function startSetup(wharfCli: string, setup: Setup, transport: 'tcp' | 'udp', prefix: string): Promise<{ servers: ServerProcess[]; ports: number[] }> {
  const servers: ServerProcess[] = [];
  const ports: number[] = [];
  for (let n = 0; n < setup.nodes; n++) {
    const port = await freePort();
    // A UDP room is ready when its (idle) TCP side answers: the seed protocol has no probe.
    const readyPort = transport === 'tcp' ? port : await freePort();
    const data = join(tmpDir, `chat-scaling-${n}`);
    rmSync(data, { recursive: true, force: true });
    const args = [
      wharfCli, 'chat', 'serve', '--no-console', '--data', data, '--log-level', 'warn',
      ...(transport === 'tcp' ? ['--no-udp', '--tcp-port', String(port)] : ['--port', String(port), '--tcp-port', String(readyPort)]),
      '--set', 'chat.ratePerSecond=1000000', '--set', 'chat.rateBurst=1000000', '--set', 'chat.historyOnJoin=0',
      '--set', 'chat.maxConnectionsPerIp=0', '--set', 'chat.memberIdleMs=0',
      ...(setup.redis ? ['--redis', REDIS_URL, '--set', `chat.redisKeyPrefix=${prefix}`] : []),
      ...(setup.workers > 1 ? ['--workers', String(setup.workers)] : []),
    ];
    const server = await startServer({
      name: `wharf-${transport}-${setup.workers}w${setup.nodes}n-${n}`,
      command: process.execPath,
      args,
      ready: { tcp: readyPort },
      ...(setup.workers > 1 ? { processes: setup.workers + 1, settleMs: 500 } : {}),
      timeoutMs: 30_000,
    });
    servers.push(server);
    ports.push(port);
  }
  return { servers, ports };
}

async function measure(wharfCli: string, setup: Setup, transport: 'tcp' | 'udp', timing: Timing, log: (line: string) => void): Promise<ChatLoadResult | string> {
  const prefix = `wharf-bench:${process.pid}:${Date.now().toString(36)}:`;
  let started: { servers: ServerProcess[]; ports: number[] } | undefined;
  try {
    started = await startSetup(wharfCli, setup, transport, prefix);
    const { servers, ports } = started;
    const pids = servers.flatMap((s) => s.pids());
    const extra = ports.length > 1 ? ['--port2', String(ports[1])] : [];
    let best: ChatLoadResult | undefined;
    for (const rate of transport === 'tcp' ? TCP_RATES : UDP_RATES) {
      const cell = await chatLoad(transport, ports[0]!, transport === 'tcp' ? TCP_MEMBERS : UDP_MEMBERS, rate, timing, pids, extra);
      log(`  ${transport} ${setup.title}, ${rate} msg/s: ${cell.error ?? `${formatNumber(cell.deliveriesPerSecond)} deliveries/s, lost ${cell.lost}, p50 ${(cell.p50Us / 1000).toFixed(1)} ms, p99 ${(cell.p99Us / 1000).toFixed(0)} ms, server CPU ${cell.serverCpuPercent.toFixed(0)}%`}`);
      if (cell.error !== undefined || cell.lost !== 0 || cell.clientDrops !== 0 || (transport === 'tcp' && cell.p99Us > 1_000_000)) break;
      best = cell;
    }
    return best ?? 'no rate without loss';
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0]! : String(error);
  } finally {
    await Promise.all((started?.servers ?? []).map((s) => s.stop()));
    if (setup.redis) await deletePrefix(prefix).catch(() => undefined);
  }
}

function row(setup: Setup, result: ChatLoadResult | string, rates: readonly number[]): string[] {
  if (typeof result === 'string') return [setup.title, '–', '–', '–', '–', '–', result];
  const note = result.rate >= rates.at(-1)! ? 'the sweep\'s top rate: the ceiling is higher' : '';
  return [setup.title, formatNumber(result.deliveriesPerSecond), formatNumber(result.rate), (result.p50Us / 1000).toFixed(1), (result.p99Us / 1000).toFixed(0), result.serverCpuPercent.toFixed(0), note];
}

const grid = (rows: string[][]): Grid => {
  const headers = ['setup', 'deliveries/s', 'msg/s in', 'p50 (ms)', 'p99 (ms)', 'server CPU (% of a core, all processes)', 'note'];
  return { headers, rows, align: headers.map((_, i) => (i === 0 || i === 6 ? 'l' : 'r')) };
};

export async function runScaling(options: BenchOptions, wharfCli: string, timing: Timing, log: (line: string) => void): Promise<void> {
  const unreachable = await redisAnswers();
  if (unreachable) {
    log(`bench chat: the scaling cells are skipped: ${unreachable}`);
    return;
  }
  const loadBefore = loadavg();
  const tcpRows: string[][] = [];
  for (const setup of TCP_SETUPS) tcpRows.push(row(setup, await measure(wharfCli, setup, 'tcp', timing, log), TCP_RATES));
  const udpRows: string[][] = [];
  for (const setup of UDP_SETUPS) udpRows.push(row(setup, await measure(wharfCli, setup, 'udp', timing, log), UDP_RATES));
  const loadAfter = loadavg();
  const machine = machineInfo();
  const load = `load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(1)).join(' ')} after`;
  process.stdout.write(
    [
      `wharf's TCP room, ${TCP_MEMBERS} members, 10 talking (highest swept rate with every message delivered and p99 < 1 s)`,
      renderText(grid(tcpRows)),
      '',
      `The seed's UDP room, ${UDP_MEMBERS} members, 10 talking: loss-free ceiling`,
      renderText(grid(udpRows)),
      '',
      `${describeMachine(machine)}; ${load}`,
      '',
    ].join('\n'),
  );
  if (!options.write) return;
  writeSection(
    'chat-scaling',
    [
      '## Chat on several processes (Redis)',
      '',
      `\`${benchCommand(options.args)}\` — ${machine.date}, ${describeMachine(machine)}; ${load}. Redis ${REDIS_URL} on the same machine.`,
      '',
      `wharf's TCP room, ${TCP_MEMBERS} members (every member receives every message, the sender too), 10 of them talking; ` +
        'the highest swept rate with every message delivered and p99 under a second. Two nodes: every other member connects to the second process.',
      '',
      renderMarkdown(grid(tcpRows)),
      '',
      `The seed's UDP room, ${UDP_MEMBERS} members, 10 talking: the highest swept rate with not one delivery lost.`,
      '',
      renderMarkdown(grid(udpRows)),
      '',
      'Where the time goes: docs/scaling.md, "What it costs".',
    ].join('\n'),
  );
  log('bench chat: wrote the scaling section of docs/benchmarks.md');
}
