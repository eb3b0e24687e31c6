/**
 * `npm run bench -- chat`: the chat room's fan-out, wharf against the seed's own Python server
 * speaking the same UDP protocol, in one run.
 *
 * UDP (the seed protocol), 100 members, 10 of them talking: for each server, the send rate is
 * swept upwards until a delivery is lost, then narrowed down; the highest rate with zero loss is
 * its loss-free ceiling (in deliveries per second: messages x 99). Then the loss at twice that
 * rate. Servers: the seed's server (test/seeds/programs/chat_server.py), a naive Node
 * `dgram` server written the way the seed is, wharf with one `send` per datagram (`udpSend:
 * inline`) and wharf as it ships (datagrams batched from a worker thread, 20 per system call).
 *
 * The measuring client is bench/loadgen/chat-load.c: one socket per member, recvmmsg, and the
 * kernel's own count of what it dropped at those sockets (SO_RXQ_OVFL). A loss with no client
 * drop happened before the member's socket: at the server. A self-test (the client fanning out to
 * itself, no server) shows how much it receives without loss.
 *
 * TCP (wharf's protocol), 100 and 1,000 members: deliveries per second and p99 latency at the
 * highest swept rate where everything was delivered with p99 under a second.
 *
 * Rounds interleave the servers (each round starts with a different one); each figure is the
 * median over the rounds. The machine's load average is printed: on a shared machine the servers
 * get what the scheduler leaves them, so ratios measured in one run matter more than absolutes.
 */
import dgram from 'node:dgram';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { compileC } from './lib/c-build.js';
import type { Benchmark, BenchmarkRun } from './lib/run-benchmark.js';
import { benchDir, repoRoot, tmpDir } from './lib/paths.js';
import { freePort, run as runCommand, startServer, type ServerProcess, type ServerSpec } from './lib/processes.js';
import { describeMachine } from './lib/report.js';
import { median, rotate } from './lib/stats.js';
import { formatNumber, renderMarkdown, renderText, type Grid } from './lib/table.js';
import { runScaling } from './chat-scaling.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SEED_SERVER = join(repoRoot, 'test', 'seeds', 'programs', 'chat_server.py');
const MEMBERS = 100;
const SENDERS = 10;
const TEXT_BYTES = 64;

/** What chat-load prints (see the comment at the top of chat-load.c). */
export interface ChatLoadResult {
  error?: string;
  mode: string;
  members: number;
  rate: number;
  seconds: number;
  messages: number;
  expected: number;
  received: number;
  lost: number;
  lossPercent: number;
  deliveriesPerSecond: number;
  offeredDeliveriesPerSecond: number;
  p50Us: number;
  p99Us: number;
  clientDrops: number;
  udpRcvbufErrors: number;
  clientCpuPercent: number;
  receiverBusyPercent: number;
  serverCpuPercent: number;
  serverUserCpuPercent: number;
}

export interface Timing {
  warmup: number;
  duration: number;
  drain: number;
}

let loadBinary: Promise<string> | undefined;
function chatLoadBinary(): Promise<string> {
  loadBinary ??= compileC(join(benchDir, 'loadgen', 'chat-load.c'), ['-pthread']);
  return loadBinary;
}

let cellNumber = 0;
/** One cell of bench/loadgen/chat-load.c; `extra` adds its flags (`--port2`). */
export async function chatLoad(mode: 'udp' | 'tcp' | 'self', port: number, members: number, rate: number, timing: Timing, pids: number[], extra: string[] = []): Promise<ChatLoadResult> {
  const args = [
    ...extra,
    '--mode', mode, '--port', String(port), '--members', String(members), '--senders', String(SENDERS), '--rate', String(rate),
    '--warmup', String(timing.warmup), '--duration', String(timing.duration), '--drain', String(timing.drain), '--size', String(TEXT_BYTES),
    // A fresh name prefix per cell: a member whose E was lost in an overloaded cell cannot block the next one.
    '--prefix', `c${++cellNumber}m`,
    '--pids', pids.join(','),
  ];
  const result = await runCommand(await chatLoadBinary(), args, { timeoutMs: (timing.warmup + timing.duration + timing.drain + 60 + members / 20) * 1000 });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ChatLoadResult;
  } catch {
    return { error: `chat-load exited ${result.code}: ${result.stderr.trim() || line || '(no output)'}` } as ChatLoadResult;
  }
}

const lossless = (cell: ChatLoadResult | undefined): boolean => cell !== undefined && cell.error === undefined && cell.lost === 0 && cell.clientDrops === 0;

// ---------------------------------------------------------------------------------------------
// Servers

/** The naive Node server: the seed's logic, line for line, on `dgram` (a string per send). */
const NAIVE_NODE_SERVER = `
import dgram from 'node:dgram';
const users = new Map();
const socket = dgram.createSocket('udp4');
const split = (text) => {
  const first = text.indexOf(' ');
  if (first < 0) return [text];
  const second = text.indexOf(' ', first + 1);
  return second < 0 ? [text.slice(0, first), text.slice(first + 1)] : [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
};
socket.on('message', (data, addr) => {
  const [command, name, content] = split(data.toString());
  if (command === 'L') {
    if (users.has(name) || name.includes('管理')) return socket.send('FAIL', addr.port, addr.address);
    socket.send('OK', addr.port, addr.address);
    const msg = '欢迎 ' + name + ' 进入聊天室';
    for (const user of users.values()) socket.send(msg, user.port, user.address);
    users.set(name, { port: addr.port, address: addr.address });
  } else if (command === 'C') {
    const msg = name + ' : ' + content;
    for (const [other, user] of users) if (other !== name) socket.send(msg, user.port, user.address);
  } else if (command === 'E') {
    users.delete(name);
    const msg = name + ' 退出了群聊';
    for (const user of users.values()) socket.send(msg, user.port, user.address);
  }
});
socket.bind(Number(process.argv[2]), '127.0.0.1');
`;

interface Contender {
  key: string;
  title: string;
  spec(port: number): ServerSpec;
}

/**
 * `startServer` waits for a TCP port or a UDP echo; a seed chat server offers neither. It is
 * given a port that is always ready (this one), and `waitForLogin` then waits for the real thing.
 */
let readyNow: Promise<number> | undefined;
function alwaysReadyPort(): Promise<number> {
  readyNow ??= new Promise((resolve) => {
    const server = net.createServer((socket) => socket.destroy());
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    server.unref();
  });
  return readyNow;
}

/** Until the server answers `L`, then leave again. */
async function waitForLogin(port: number, server: ServerProcess): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let answered: ((answer: string) => void) | undefined;
  socket.on('message', (message) => answered?.(message.toString()));
  try {
    const deadline = Date.now() + 20_000;
    for (let attempt = 0; ; attempt++) {
      if (!server.running) throw new Error(`${server.name} exited:\n${server.output}`);
      if (Date.now() > deadline) throw new Error(`${server.name} did not answer a login:\n${server.output}`);
      const name = `ready${attempt}`;
      const answer = new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 200);
        answered = (text) => {
          clearTimeout(timer);
          resolve(text);
        };
      });
      socket.send(`L ${name}`, port, '127.0.0.1');
      if ((await answer) === 'OK') {
        socket.send(`E ${name}`, port, '127.0.0.1');
        return;
      }
    }
  } finally {
    socket.close();
  }
}

function contenders(wharfCli: string | undefined, readyPort: number): Contender[] {
  const naive = join(tmpDir, 'chat-naive-node.mjs');
  mkdirSync(tmpDir, { recursive: true });
  writeFileSync(naive, NAIVE_NODE_SERVER);
  const list: Contender[] = [
    {
      key: 'seed',
      title: 'seed (Python)',
      spec: (port) => ({ name: 'seed', command: PYTHON, args: ['-u', SEED_SERVER, String(port), '127.0.0.1'], ready: { tcp: readyPort } }),
    },
    {
      key: 'naive',
      title: 'naive Node dgram',
      spec: (port) => ({ name: 'naive', command: process.execPath, args: [naive, String(port)], ready: { tcp: readyPort } }),
    },
  ];
  if (wharfCli !== undefined) {
    const wharf = (udpSend: string) => (port: number): ServerSpec => {
      const data = join(tmpDir, `chat-data-${udpSend}`);
      rmSync(data, { recursive: true, force: true });
      return {
        name: `wharf-${udpSend}`,
        command: process.execPath,
        args: [
          wharfCli, 'chat', 'serve', '--no-tcp', '--no-console', '--port', String(port), '--data', data, '--log-level', 'warn',
          '--set', 'chat.ratePerSecond=1000000', '--set', 'chat.rateBurst=1000000', '--set', 'chat.memberIdleMs=0', '--set', `chat.udpSend=${udpSend}`,
        ],
        ready: { tcp: readyPort },
      };
    };
    list.push({ key: 'wharfInline', title: 'wharf, one send per datagram', spec: wharf('inline') });
    list.push({ key: 'wharf', title: 'wharf (batched sends)', spec: wharf('auto') });
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// The UDP sweep

interface SweepResult {
  ceiling: ChatLoadResult | undefined;
  doubled: ChatLoadResult | undefined;
  cells: ChatLoadResult[];
}

/** Message rates tried, each 1.5 times the last. */
const LADDER = [100, 150, 225, 340, 500, 750, 1_100, 1_700, 2_500, 3_800, 5_700, 8_500];

async function sweep(port: number, server: ServerProcess, timing: Timing, bisections: number, log: (line: string) => void): Promise<SweepResult> {
  const cells: ChatLoadResult[] = [];
  const cell = async (rate: number) => {
    const result = await chatLoad('udp', port, MEMBERS, rate, timing, server.pids());
    cells.push(result);
    log(
      `  ${server.name.padEnd(12)} ${String(Math.round(rate)).padStart(5)} msg/s: ${result.error ?? `${formatNumber(result.deliveriesPerSecond)} deliveries/s, loss ${result.lossPercent.toFixed(2)}%, client drops ${result.clientDrops}, p99 ${(result.p99Us / 1000).toFixed(0)} ms, server CPU ${result.serverCpuPercent.toFixed(0)}%`}`,
    );
    return result;
  };
  let good: ChatLoadResult | undefined;
  let bad: ChatLoadResult | undefined;
  for (const rate of LADDER) {
    const result = await cell(rate);
    if (!server.running) throw new Error(`${server.name} died:\n${server.output}`);
    if (lossless(result)) good = result;
    else {
      bad = result;
      break;
    }
  }
  for (let i = 0; i < bisections && good && bad; i++) {
    const rate = Math.round(Math.sqrt(good.rate * bad.rate));
    if (rate <= good.rate || rate >= bad.rate) break;
    const result = await cell(rate);
    if (lossless(result)) good = result;
    else bad = result;
  }
  const doubled = good ? await cell(2 * good.rate) : undefined;
  return { ceiling: good, doubled, cells };
}

// ---------------------------------------------------------------------------------------------

function microsPerDelivery(cell: ChatLoadResult | undefined): number | undefined {
  if (!cell || cell.deliveriesPerSecond <= 0) return undefined;
  return (cell.serverCpuPercent / 100) * 1e6 / cell.deliveriesPerSecond;
}

function grid(headers: string[], rows: string[][]): Grid {
  return { headers, rows, align: headers.map((_, i) => (i === 0 ? 'l' : 'r')) };
}

export const benchmark: Benchmark = { name: 'chat', rounds: { quick: 1, full: 2 }, durationSeconds: { quick: 2, full: 3 }, measure };

async function measure(run: BenchmarkRun): Promise<void> {
  const { quick, rounds, wharfCli } = run;
  const timing: Timing = { warmup: quick ? 0.5 : 1, duration: run.durationSeconds, drain: quick ? 1.5 : 2 };
  const bisections = quick ? 1 : 2;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const loadBefore = loadavg();
  await chatLoadBinary();
  const readyPort = await alwaysReadyPort();
  const list = contenders(wharfCli, readyPort);

  // -- UDP, every server, rounds interleaved --------------------------------------------------
  const results = new Map<string, SweepResult[]>();
  for (let round = 0; round < rounds; round++) {
    for (const contender of rotate(list, round)) {
      const port = await freePort();
      log(`round ${round + 1}/${rounds}: ${contender.title}`);
      const server = await startServer(contender.spec(port));
      try {
        await waitForLogin(port, server);
        const result = await sweep(port, server, timing, bisections, log);
        results.set(contender.key, [...(results.get(contender.key) ?? []), result]);
      } catch (error) {
        log(`  ${contender.title}: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        await server.stop();
      }
    }
  }

  const summary = list.map((contender) => {
    const sweeps = results.get(contender.key) ?? [];
    const ceilings = sweeps.map((s) => s.ceiling?.deliveriesPerSecond ?? 0);
    const ceiling = median(ceilings);
    // The round whose ceiling is the median (or nearest): its cells describe the server.
    const representative = sweeps.slice().sort((a, b) => Math.abs((a.ceiling?.deliveriesPerSecond ?? 0) - ceiling) - Math.abs((b.ceiling?.deliveriesPerSecond ?? 0) - ceiling))[0];
    return {
      contender,
      ceiling,
      ceilings,
      doubledDelivered: median(sweeps.map((s) => s.doubled?.deliveriesPerSecond ?? Number.NaN)),
      doubledLoss: median(sweeps.map((s) => s.doubled?.lossPercent ?? Number.NaN)),
      doubledClientDrops: sweeps.reduce((sum, s) => sum + (s.doubled?.clientDrops ?? 0), 0),
      serverCpu: representative?.ceiling?.serverCpuPercent,
      serverUserCpu: representative?.ceiling?.serverUserCpuPercent,
      micros: microsPerDelivery(representative?.ceiling),
      clientDrops: sweeps.reduce((sum, s) => sum + s.cells.reduce((n, c) => n + (c.clientDrops ?? 0), 0), 0),
      clientCpu: representative?.ceiling?.clientCpuPercent,
      receiverBusy: Math.max(0, ...sweeps.map((s) => s.ceiling?.receiverBusyPercent ?? 0)),
    };
  });
  const seed = summary.find((s) => s.contender.key === 'seed');

  // -- The measuring client on its own ---------------------------------------------------------
  const highest = Math.max(...summary.map((s) => s.ceiling).filter(Number.isFinite), 50_000);
  const selfRate = Math.round((1.5 * highest) / (MEMBERS - 1));
  log(`client self-test: ${selfRate} msg/s = ${formatNumber(selfRate * (MEMBERS - 1))} deliveries/s offered`);
  const self = await chatLoad('self', 0, MEMBERS, selfRate, timing, []);

  // -- TCP ---------------------------------------------------------------------------------------
  const tcpRows: string[][] = [];
  if (wharfCli !== undefined) {
    for (const members of [100, 1_000]) {
      const port = await freePort();
      const data = join(tmpDir, 'chat-data-tcp');
      rmSync(data, { recursive: true, force: true });
      log(`TCP, ${members} members`);
      const server = await startServer({
        name: `wharf-tcp-${members}`,
        command: process.execPath,
        args: [
          wharfCli, 'chat', 'serve', '--no-udp', '--no-console', '--tcp-port', String(port), '--data', data, '--log-level', 'warn',
          '--set', 'chat.ratePerSecond=1000000', '--set', 'chat.rateBurst=1000000', '--set', 'chat.historyOnJoin=0', '--set', 'chat.maxConnectionsPerIp=0',
        ],
        ready: { tcp: port },
      });
      try {
        let best: ChatLoadResult | undefined;
        for (const rate of members === 100 ? [100, 200, 400, 800, 1_600, 3_200, 6_400] : [25, 50, 100, 200, 400, 800]) {
          const cell = await chatLoad('tcp', port, members, rate, timing, server.pids());
          log(`  ${String(rate).padStart(5)} msg/s: ${cell.error ?? `${formatNumber(cell.deliveriesPerSecond)} deliveries/s, lost ${cell.lost}, p50 ${(cell.p50Us / 1000).toFixed(1)} ms, p99 ${(cell.p99Us / 1000).toFixed(0)} ms, server CPU ${cell.serverCpuPercent.toFixed(0)}%`}`);
          if (cell.error !== undefined || cell.lost !== 0 || cell.p99Us > 1_000_000) break;
          best = cell;
        }
        tcpRows.push([
          `${formatNumber(members)} members`,
          best ? formatNumber(best.deliveriesPerSecond) : '–',
          best ? formatNumber(best.rate) : '–',
          best ? (best.p50Us / 1000).toFixed(1) : '–',
          best ? (best.p99Us / 1000).toFixed(0) : '–',
          best ? best.serverCpuPercent.toFixed(0) : '–',
        ]);
      } finally {
        await server.stop();
      }
    }
  }
  const loadAfter = loadavg();

  // -- Report ------------------------------------------------------------------------------------
  const ratio = (value: number) => (seed && seed.ceiling > 0 && Number.isFinite(value) ? `${(value / seed.ceiling).toFixed(2)}×` : '–');
  const udpGrid = grid(
    ['server', 'loss-free ceiling (deliveries/s)', 'vs seed', 'rounds', 'at 2× the rate: delivered/s', 'loss at 2×', 'server CPU at ceiling (% of a core, user part)', 'server CPU per delivery (µs)'],
    summary.map((s) => [
      s.contender.title,
      formatNumber(s.ceiling),
      ratio(s.ceiling),
      s.ceilings.map((c) => formatNumber(c)).join(' / '),
      formatNumber(s.doubledDelivered),
      Number.isFinite(s.doubledLoss) ? `${s.doubledLoss.toFixed(1)}%` : '–',
      s.serverCpu !== undefined ? `${s.serverCpu.toFixed(0)}% (${(s.serverUserCpu ?? 0).toFixed(0)}%)` : '–',
      s.micros !== undefined ? s.micros.toFixed(1) : '–',
    ]),
  );
  const clientGrid = grid(
    ['check', 'value'],
    [
      ['datagrams dropped at the client\'s own sockets, every cell of every server (SO_RXQ_OVFL)', String(summary.reduce((n, s) => n + s.clientDrops, 0))],
      ['busiest receiving thread at any server\'s ceiling (% of a core)', `${Math.max(...summary.map((s) => s.receiverBusy)).toFixed(0)}%`],
      ['client self-test: deliveries/s offered (1.5× the highest ceiling)', formatNumber(self.offeredDeliveriesPerSecond)],
      ['client self-test: received/s, loss, drops', self.error ?? `${formatNumber(self.deliveriesPerSecond)}, ${self.lossPercent.toFixed(2)}%, ${self.clientDrops}`],
      ['client CPU during the self-test (% of a core, sending thread included)', self.error ? '–' : `${self.clientCpuPercent.toFixed(0)}%`],
    ],
  );
  const tcpGrid = grid(['wharf TCP room', 'deliveries/s', 'msg/s in', 'p50 (ms)', 'p99 (ms)', 'server CPU (%)'], tcpRows);

  const { machine, command } = run.facts();
  const load = `load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(1)).join(' ')} after`;
  const text = [
    `UDP fan-out, ${MEMBERS} members, ${SENDERS} talking, ${TEXT_BYTES}-byte messages (${rounds} round${rounds === 1 ? '' : 's'}, ${timing.duration} s per cell)`,
    renderText(udpGrid),
    '',
    'The measuring client',
    renderText(clientGrid),
    '',
    'wharf\'s TCP room (highest swept rate with every message delivered and p99 < 1 s)',
    renderText(tcpGrid),
    '',
    `${describeMachine(machine)}; ${load}`,
  ].join('\n');
  const body = [
    '## Chat fan-out',
    '',
    `\`${command}\` — ${machine.date}, ${describeMachine(machine)}; ${load}.`,
    '',
    `UDP, the seed protocol: ${MEMBERS} members (one socket each in the C client, bench/loadgen/chat-load.c), ${SENDERS} of them talking, ` +
      `${TEXT_BYTES}-byte messages; each message is delivered to the ${MEMBERS - 1} others. The loss-free ceiling is the highest swept rate at which ` +
      'not one delivery was lost (each round sweeps ×1.5 steps, then narrows); the figure is the median over the rounds, the rounds are listed.',
    '',
    renderMarkdown(udpGrid),
    '',
    'The client is not the limit: it counts what the kernel dropped at its own sockets, and it receives more on its own than any server delivered:',
    '',
    renderMarkdown(clientGrid),
    '',
    `wharf's own protocol over TCP (10 members talking, everyone receives every message, the sender too):`,
    '',
    renderMarkdown(tcpGrid),
    '',
    'Where the time goes, and what wharf does about it: docs/chat.md, "Fan-out".',
  ];
  run.finish({ terminal: [text], doc: body, results: { machine, command, rounds, timing, udp: Object.fromEntries(results), tcp: tcpRows } });
  if (wharfCli !== undefined) await runScaling(run.options, wharfCli, timing, log);
}

