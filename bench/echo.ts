/**
 * `npm run bench -- echo`: wharf's TCP and UDP echo side by side with a bare node:net / dgram
 * echo and the Python asyncio echo (`pyecho` of the anchors), in one run.
 *
 * Every server runs in its own process on 127.0.0.1 for the whole run; the C load generator
 * (bench/loadgen/echo-load.c) drives one cell at a time. Rounds interleave the servers (each round
 * and row starts with a different one) and each figure is the median over the rounds, because the
 * machine is shared and noisy. The generator samples its own CPU and the server's, which the
 * report prints to show that the generator is not the limit.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { echoLoadBinary, runEchoLoad, type EchoLoad, type EchoLoadResult } from './lib/echo-load.js';
import type { Benchmark, BenchmarkRun } from './lib/run-benchmark.js';
import { benchDir, tmpDir } from './lib/paths.js';
import type { ServerSpec } from './lib/processes.js';
import { describeMachine } from './lib/report.js';
import { median, pairedRatios, rotate, spread } from './lib/stats.js';
import { contenderGrid, formatNumber, ratioValue, renderMarkdown, renderText, resultsGrid, type RatioColumn, type ResultRow, type ValueColumn } from './lib/table.js';

const ANCHORS_DIR = process.env.WHARF_ANCHORS ?? '/work/shared/anchors';
/** The interpreter start.sh uses for pyecho. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

type Transport = 'tcp' | 'udp';
type Metric = 'messagesPerSecond' | 'megabytesPerSecond';

interface Case {
  id: string;
  label: string;
  unit: string;
  transport: Transport;
  load: EchoLoad;
  metric: Metric;
}

const CASES: Case[] = [
  { id: '1x1', label: '1 conn × 1 in flight', unit: 'msg/s', transport: 'tcp', metric: 'messagesPerSecond', load: { mode: 'tcp', conns: 1, inflight: 1, size: 64 } },
  { id: '64x1', label: '64 conns × 1 in flight', unit: 'msg/s', transport: 'tcp', metric: 'messagesPerSecond', load: { mode: 'tcp', conns: 64, inflight: 1, size: 64 } },
  { id: '1x16', label: '1 conn × 16 in flight', unit: 'msg/s', transport: 'tcp', metric: 'messagesPerSecond', load: { mode: 'tcp', conns: 1, inflight: 16, size: 64 } },
  { id: '64x16', label: '64 conns × 16 in flight', unit: 'msg/s', transport: 'tcp', metric: 'messagesPerSecond', load: { mode: 'tcp', conns: 64, inflight: 16, size: 64 } },
  { id: 'stream', label: '1 conn stream, 1 MiB blocks', unit: 'MB/s', transport: 'tcp', metric: 'megabytesPerSecond', load: { mode: 'stream', conns: 1, inflight: 4, size: 1 << 20 } },
  { id: 'udp', label: 'UDP 16 sockets × 8 in flight', unit: 'datagrams/s', transport: 'udp', metric: 'messagesPerSecond', load: { mode: 'udp', conns: 16, inflight: 8, size: 64 } },
];

interface Contender {
  key: string;
  title: string;
  /** How to start this contender's server for a transport on a port (undefined: not available). */
  spec(transport: Transport, port: number): ServerSpec | undefined;
}

function contenders(wharfCli: string | undefined): Contender[] {
  const wharf = (workers: number) => (transport: Transport, port: number): ServerSpec | undefined => {
    if (wharfCli === undefined) return undefined;
    // A data folder each: the servers run side by side, and a wharf server refuses a folder another one serves.
    const wharfData = join(tmpDir, `wharf-data-echo-${workers}-${transport}`);
    const args = [wharfCli, 'echo', 'serve', '--port', String(port), transport === 'tcp' ? '--no-udp' : '--no-tcp', '--log-level', 'warn', '--data', wharfData];
    if (workers > 1) args.push('--workers', String(workers));
    return {
      name: `wharf${workers > 1 ? ` --workers ${workers}` : ''} ${transport}`,
      command: process.execPath,
      args,
      ready: transport === 'tcp' ? { tcp: port } : { udpEcho: port },
      ...(workers > 1 ? { processes: workers + 1, settleMs: 1_000 } : {}),
    };
  };
  return [
    { key: 'wharf', title: 'wharf', spec: wharf(1) },
    { key: 'wharf2', title: 'wharf --workers 2', spec: wharf(2) },
    {
      key: 'node',
      title: 'node:net / dgram',
      spec: (transport, port) => ({
        name: `node ${transport}`,
        command: process.execPath,
        args: [join(benchDir, 'anchors', transport === 'tcp' ? 'node-echo.mjs' : 'node-udp-echo.mjs'), String(port)],
        ready: transport === 'tcp' ? { tcp: port } : { udpEcho: port },
      }),
    },
    {
      key: 'python',
      title: 'python asyncio',
      spec: (transport, port) => {
        if (transport === 'udp') {
          return { name: 'python udp', command: PYTHON, args: [join(benchDir, 'anchors', 'py-udp-echo.py'), String(port)], ready: { udpEcho: port } };
        }
        const startSh = join(ANCHORS_DIR, 'start.sh');
        return existsSync(startSh)
          ? { name: 'python tcp (anchors/start.sh pyecho)', command: 'bash', args: [startSh, 'pyecho', String(port)], ready: { tcp: port } }
          : { name: 'python tcp (bench/anchors/pyecho.py)', command: PYTHON, args: [join(benchDir, 'anchors', 'pyecho.py'), String(port)], ready: { tcp: port } };
      },
    },
  ];
}

interface Cell {
  caseId: string;
  contender: string;
  round: number;
  result: EchoLoadResult;
}

const RATIOS: RatioColumn[] = [
  { title: 'wharf/node', numerator: 'wharf', denominator: 'node', target: 0.9 },
  { title: 'wharf/python', numerator: 'wharf', denominator: 'python', target: 1.0 },
  { title: '×2 workers/wharf', numerator: 'wharf2', denominator: 'wharf' },
];

export const benchmark: Benchmark = { name: 'echo', rounds: { quick: 2, full: 5 }, durationSeconds: { quick: 0.6, full: 1.1 }, measureBusy: true, measure };

async function measure(run: BenchmarkRun): Promise<void> {
  const { rounds, durationSeconds, busyBefore, missing, build } = run;
  const warmupSeconds = 0.3;
  const warmupPassSeconds = run.quick ? 0.8 : 1.5;
  await echoLoadBinary();

  const all = contenders(run.wharfCli);
  const cells: Cell[] = [];
  const total = rounds * CASES.length * all.length;
  let done = 0;
  // Every server runs for the whole benchmark, and is warmed up first, one at a time so that each
  // gets the CPU: a young Node process needs a second or so of traffic (about one CPU-second for
  // wharf, which has more code and a bigger heap) before its JIT and heap settle. Restarting the
  // servers every round would sample more allocator states (see docs/benchmarks.md, stream row)
  // but would measure wharf before it is warm.
  const servers = await run.startServers(
    (['tcp', 'udp'] as const).flatMap((transport) => all.map((contender) => ({ key: `${contender.key}/${transport}`, title: `${contender.title} ${transport}`, contender, transport }))),
    (entry, port) => entry.contender.spec(entry.transport, port),
  );
  process.stdout.write('warming the servers up, one at a time (not counted) ...\n');
  for (const [key, { server, port }] of servers) {
    const udp = key.endsWith('/udp');
    const shapes: Array<[EchoLoad, number]> = udp
      ? [[{ mode: 'udp', conns: 16, inflight: 8, size: 64 }, warmupPassSeconds]]
      : [
          [{ mode: 'tcp', conns: 64, inflight: 1, size: 64 }, warmupPassSeconds],
          [{ mode: 'tcp', conns: 64, inflight: 16, size: 64 }, warmupPassSeconds / 3],
          [{ mode: 'stream', conns: 1, inflight: 4, size: 1 << 20 }, warmupPassSeconds / 3],
        ];
    for (const [shape, seconds] of shapes) {
      if (server.running) await runEchoLoad(port, shape, { warmupSeconds: 0, durationSeconds: seconds, serverPids: [] });
    }
  }
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [caseIndex, testCase] of CASES.entries()) {
        for (const contender of rotate(all, round + caseIndex)) {
          const running = servers.get(`${contender.key}/${testCase.transport}`);
          done++;
          if (!running) continue;
          const result: EchoLoadResult = running.server.running
            ? await runEchoLoad(running.port, testCase.load, { warmupSeconds, durationSeconds, serverPids: running.server.pids() })
            : ({ mode: testCase.load.mode, error: `server exited:\n${running.server.output}` } as EchoLoadResult);
          cells.push({ caseId: testCase.id, contender: contender.key, round, result });
          const progress = `[${String(done).padStart(String(total).length)}/${total}] round ${round + 1} ${testCase.label.padEnd(28)} ${contender.title.padEnd(18)}`;
          if (result.error) process.stdout.write(`${progress} ERROR ${result.error}\n`);
          else {
            process.stdout.write(
              `${progress} ${formatNumber(result[testCase.metric]).padStart(10)} ${testCase.unit.padEnd(11)} ` +
                `cpu: generator ${result.clientCpuPercent.toFixed(0).padStart(3)}%  server ${result.serverCpuPercent.toFixed(0).padStart(3)}%  others ${Math.max(0, result.otherCpuPercent).toFixed(0).padStart(3)}%` +
                (result.lossPercent !== undefined ? `  loss ${result.lossPercent.toFixed(2)}%` : '') +
                '\n',
            );
          }
        }
      }
    }
  } finally {
    await Promise.all([...servers.values()].map(({ server }) => server.stop()));
  }

  // ---- aggregate ----
  const cellsOf = (caseId: string, key: string) => cells.filter((c) => c.caseId === caseId && c.contender === key && !c.result.error);
  const columns: ValueColumn[] = all.map((c) => ({ key: c.key, title: c.title }));
  const rows: ResultRow[] = CASES.map((testCase) => ({
    label: testCase.label,
    unit: testCase.unit,
    values: Object.fromEntries(
      all.map((c) => {
        const values = cellsOf(testCase.id, c.key).map((cell) => cell.result[testCase.metric]);
        return [c.key, values.length > 0 ? median(values) : undefined];
      }),
    ),
    ratios: pairedRatios(RATIOS, rounds, (key, round) => cells.find((c) => c.caseId === testCase.id && c.contender === key && c.round === round && !c.result.error)?.result[testCase.metric]),
  }));
  const results = resultsGrid({ rowHeader: 'echo, 64-byte messages', columns, ratios: RATIOS, rows });

  const cpuGrid = contenderGrid('generator / server / others, % of one core', CASES, all, (testCase, c) => {
    const list = cellsOf(testCase.id, c.key);
    if (list.length === 0) return '–';
    const m = (pick: (r: EchoLoadResult) => number) => median(list.map((cell) => pick(cell.result))).toFixed(0);
    return `${m((r) => r.clientCpuPercent)} / ${m((r) => r.serverCpuPercent)} / ${m((r) => Math.max(0, r.otherCpuPercent))}`;
  });
  const costGrid = contenderGrid('server CPU per message, µs (stream: per MB)', CASES, all, (testCase, c) => {
    const list = cellsOf(testCase.id, c.key);
    if (list.length === 0) return '–';
    const perUnit = list.map(({ result: r }) => {
      const units = testCase.metric === 'megabytesPerSecond' ? r.bytes / 1e6 : r.messages;
      return ((r.serverCpuPercent / 100) * r.seconds * 1e6) / units;
    });
    return median(perUnit).toFixed(2);
  });

  const spreadGrid = contenderGrid('lowest – highest round', CASES, all, (testCase, c) => {
    const values = cellsOf(testCase.id, c.key).map((cell) => cell.result[testCase.metric]);
    if (values.length === 0) return '–';
    const flag = values.length > 1 && spread(values) > 0.25 ? ' ~' : '';
    return `${formatNumber(Math.min(...values))} – ${formatNumber(Math.max(...values))}${flag}`;
  });

  // ---- verdicts ----
  const verdicts: string[] = [];
  for (const row of rows) {
    for (const ratio of RATIOS.filter((r) => r.target !== undefined)) {
      const value = ratioValue(row, ratio);
      if (value !== undefined && value < ratio.target!) verdicts.push(`${row.label}: ${ratio.title} = ${value.toFixed(2)} (target ≥ ${ratio.target})`);
    }
  }
  const errors = cells.filter((c) => c.result.error).map((c) => `${c.caseId} ${c.contender} round ${c.round + 1}: ${c.result.error!.split('\n')[0]}`);
  const udpCase = CASES.find((c) => c.transport === 'udp')!;
  const lossNotes = all
    .map((c) => {
      const losses = cellsOf(udpCase.id, c.key).map((cell) => cell.result.lossPercent ?? 0);
      return losses.length > 0 && Math.max(...losses) > 0 ? `${c.title} ${median(losses).toFixed(2)}% (worst round ${Math.max(...losses).toFixed(2)}%)` : '';
    })
    .filter((text) => text !== '');
  const maxGenerator = Math.max(0, ...cells.filter((c) => !c.result.error).map((c) => c.result.clientCpuPercent));
  for (const [key, reason] of missing) run.notes.push(`${key} not measured: ${reason.split('\n')[0]}`);

  const { machine, measuredLine } = run.facts();
  const method =
    `Other processes kept the machine ${busyBefore.toFixed(0)}% busy (of ${machine.nproc * 100}%) just before the run. ` +
    `Servers warmed up one at a time first (${warmupPassSeconds} s at 64 × 1 each, plus the other shapes), then ${rounds} round${rounds > 1 ? 's' : ''}, servers interleaved, ${durationSeconds} s counted per cell after ${warmupSeconds} s of warm-up; ` +
    `each figure is the median over the rounds, each ratio the median of the per-round ratios.`;

  // ---- terminal ----
  const out: string[] = [
    '',
    `echo benchmark — ${describeMachine(machine)} — ${method}`,
    '',
    renderText(results),
    '',
    renderText(cpuGrid),
    '',
    renderText(costGrid),
    '',
    `Busiest the generator got: ${maxGenerator.toFixed(0)}% of one core (it must stay well under 100% to not be the limit).`,
  ];
  if (verdicts.length) out.push('', 'Targets missed (a "!" in the table):', ...verdicts.map((v) => `  ${v}`));
  else if (build.ok) out.push('', 'Targets met: wharf ≥ 0.9× node and ≥ 1.0× python in every row.');
  out.push('', renderText(spreadGrid), '("~": rounds more than 25% apart)');

  // ---- docs/benchmarks.md ----
  const doc: string[] = [
    '## echo',
    '',
    `${measuredLine} ${method} ` +
      'TCP messages are 64 bytes; "in flight" is how many messages each connection keeps outstanding ' +
      '(pipelining). The stream row sends 1 MiB blocks on one connection, at most 4 outstanding. UDP datagrams are 64 bytes, never resent.',
    '',
    renderMarkdown(results),
    '',
    verdicts.length
      ? `Targets missed (marked "!"): ${verdicts.join('; ')}.`
      : build.ok
        ? 'Targets met: wharf ≥ 0.9× the bare node echo and ≥ 1.0× the Python asyncio echo in every row.'
        : '',
    '',
    `CPU while counting, median over the rounds, in % of one core: the C load generator / the server (all its processes) / ` +
      `everything else on the machine. The generator peaked at ${maxGenerator.toFixed(0)}% of one core, so it is not the limit.`,
    '',
    renderMarkdown(cpuGrid),
    '',
    'Server CPU per message (stream: per MB), median: the cost of one echo, less disturbed by other load than the throughput is.',
    '',
    renderMarkdown(costGrid),
  ];
  doc.push('', 'How far apart the rounds were ("~": more than 25%, read that cell with care):', '', renderMarkdown(spreadGrid));
  run.finish({
    terminal: out,
    doc,
    remarks: { extra: [{ heading: 'UDP datagrams lost (median over rounds)', items: lossNotes }], errors },
    results: { machine, command: run.facts().command, rounds, durationSeconds, warmupSeconds, cells },
  });
}
