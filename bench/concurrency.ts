/**
 * `npm run bench -- concurrency`: the seeds' concurrency models as wharf offers them, measured on
 * the same echo service in one run (numbers for docs/concurrency.md):
 *
 *   event loop     `wharf echo serve` (one process; libuv's epoll; the seeds' select/epoll/gevent)
 *   workers 2      `--workers 2` (node:cluster, a pre-forked pool sharing the port)
 *   fork           `--model fork` (one process per connection: ForkingTCPServer / fork())
 *
 * Rows: connections per second for the seed's one-connection-per-message client (connect, send,
 * read the answer, close); messages per second on 16 kept-open connections (echo-load, C); and
 * the memory each open connection costs (RSS of the server's process tree with 50 idle
 * connections, minus its RSS with none).
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runEchoLoad, echoLoadBinary } from './lib/echo-load.js';
import type { Benchmark, BenchmarkRun } from './lib/run-benchmark.js';
import { tmpDir } from './lib/paths.js';
import { freePort, startServer, type ServerProcess } from './lib/processes.js';
import { median } from './lib/stats.js';
import { renderMarkdown, renderText, resultsGrid, type ResultRow } from './lib/table.js';

interface Model {
  key: string;
  title: string;
  args: string[];
  processes?: number;
}

const MODELS: Model[] = [
  { key: 'loop', title: 'event loop', args: [] },
  { key: 'workers', title: '--workers 2', args: ['--workers', '2'], processes: 3 },
  { key: 'fork', title: '--model fork', args: ['--model', 'fork'] },
];

/** One connection per message, `parallel` clients at once, for `seconds`. */
async function connectionsPerSecond(port: number, parallel: number, seconds: number): Promise<number> {
  const payload = Buffer.alloc(64, 0x61);
  const deadline = performance.now() + seconds * 1000;
  let completed = 0;
  const client = async () => {
    while (performance.now() < deadline) {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect({ port, host: '127.0.0.1' });
        let got = 0;
        socket.on('connect', () => socket.write(payload));
        socket.on('data', (chunk) => {
          got += chunk.length;
          if (got >= payload.length) {
            completed++;
            socket.end();
          }
        });
        socket.on('error', reject);
        socket.on('close', () => resolve());
      });
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: parallel }, client));
  return completed / ((performance.now() - started) / 1000);
}

function rssKiB(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) total += Number(match[1]);
    } catch {
      // the process ended between listing and reading
    }
  }
  return total;
}

async function memoryPerConnection(server: ServerProcess, port: number, count: number): Promise<number> {
  const before = rssKiB(server.pids());
  const sockets = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      // One exchange, so a forked child has really started serving.
      s.once('connect', () => s.write('x'));
      s.once('data', () => resolve(s));
      s.once('error', reject);
    })),
  );
  await new Promise((r) => setTimeout(r, 500));
  const after = rssKiB(server.pids());
  for (const s of sockets) s.destroy();
  return (after - before) / count;
}

export const benchmark: Benchmark = { name: 'concurrency', rounds: { quick: 1, full: 3 }, durationSeconds: { quick: 1.5, full: 3 }, wharfRequired: true, measure };

async function measure(run: BenchmarkRun): Promise<void> {
  const { rounds, durationSeconds: seconds } = run;
  const wharfCli = run.wharfCli!;
  await echoLoadBinary();

  const samples = new Map<string, number[]>();
  const add = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value]);
  for (let round = 0; round < rounds; round++) {
    for (const model of MODELS) {
      const port = await freePort();
      const server = await startServer({
        name: `wharf ${model.title}`,
        command: process.execPath,
        args: [wharfCli, 'echo', 'serve', '--port', String(port), '--no-udp', '--log-level', 'warn', '--data', join(tmpDir, 'wharf-data'), ...model.args],
        ready: { tcp: port },
        ...(model.processes ? { processes: model.processes, settleMs: 500 } : {}),
      });
      try {
        process.stderr.write(`bench: round ${round + 1}/${rounds} ${model.title}\n`);
        add(`conn/${model.key}`, await connectionsPerSecond(port, 8, seconds));
        const load = await runEchoLoad(port, { mode: 'tcp', conns: 16, inflight: 1, size: 64 }, { warmupSeconds: 0.5, durationSeconds: seconds, serverPids: server.pids() });
        if (load.error) process.stderr.write(`bench: ${model.title}: ${load.error}\n`);
        else add(`msg/${model.key}`, load.messagesPerSecond);
        add(`mem/${model.key}`, await memoryPerConnection(server, port, 50));
      } finally {
        await server.stop();
      }
    }
  }

  const row = (label: string, unit: string, prefix: string): ResultRow => ({
    label,
    unit,
    values: Object.fromEntries(MODELS.map((m) => [m.key, median(samples.get(`${prefix}/${m.key}`) ?? [])])),
  });
  const table = {
    rowHeader: 'measure',
    columns: MODELS.map((m) => ({ key: m.key, title: m.title })),
    ratios: [
      { title: 'workers/loop', numerator: 'workers', denominator: 'loop' },
      { title: 'fork/loop', numerator: 'fork', denominator: 'loop' },
    ],
    rows: [
      row('connection per message, 8 clients', 'connections/s', 'conn'),
      row('16 kept-open connections × 1 in flight', 'msg/s', 'msg'),
      row('memory per open connection', 'KiB', 'mem'),
    ],
  };
  const grid = resultsGrid(table);
  const { machine, command, measuredLine } = run.facts();
  run.finish({
    terminal: ['', renderText(grid)],
    doc: [
      '## Concurrency models (echo)',
      '',
      `${measuredLine} Median of ${rounds} round(s), ${seconds} s per cell.`,
      '',
      renderMarkdown(grid),
      '',
      'What the models mean and when to use each: [concurrency.md](concurrency.md).',
    ],
    results: { machine, command, rounds, seconds, samples: Object.fromEntries(samples) },
  });
}
