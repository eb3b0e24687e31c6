/**
 * `npm run bench -- web`: wharf's static web server side by side with nginx (1 worker, the
 * anchors' start.sh), and the Node static servers people reach for: `serve`, `sirv-cli` and
 * `http-server` (devDependencies; a row whose package is missing is reported, not measured).
 *
 * Two cases, both driven by wrk (Debian's `wrk`) over loopback:
 *   - a 1 KiB file, `wrk -t1 -c50`: requests per second (the per-request cost);
 *   - a 100 MiB file, `wrk -t1 -c4`: MB/s (10^6 bytes; the bulk-transfer cost).
 * wharf runs as one process and with `--workers 2`. Every server runs for the whole run; rounds
 * interleave the servers (each round starts with a different one) and each figure is the median
 * over the rounds, because the machine is shared and noisy. The server's own CPU time is read
 * from /proc, so the report also gives CPU per request (per MB), which other load disturbs less.
 *
 * `WHARF_BENCH_NODE_BIN=DIR` looks for serve, sirv and http-server in DIR when the repository's
 * node_modules/.bin does not have them.
 */
import { existsSync, mkdirSync, openSync, closeSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import type { Benchmark, BenchmarkRun } from './lib/run-benchmark.js';
import { repoRoot, tmpDir } from './lib/paths.js';
import { cpuSeconds, run as runCommand, type ServerProcess, type ServerSpec } from './lib/processes.js';
import { describeMachine } from './lib/report.js';
import { median, pairedRatios, rotate, spread } from './lib/stats.js';
import { contenderGrid, formatNumber, ratioValue, renderMarkdown, renderText, resultsGrid, type RatioColumn, type ResultRow, type ValueColumn } from './lib/table.js';

const ANCHORS_DIR = process.env.WHARF_ANCHORS ?? '/work/shared/anchors';
const SMALL_FILE = '1k.txt';
const BIG_FILE = '100m.bin';
const BIG_BYTES = 100 * 1024 * 1024;

interface Case {
  id: 'small' | 'big';
  label: string;
  unit: string;
  path: string;
  connections: number;
  metric: 'requestsPerSecond' | 'megabytesPerSecond';
}

const CASES: Case[] = [
  { id: 'small', label: '1 KiB file, wrk -t1 -c50', unit: 'req/s', path: `/${SMALL_FILE}`, connections: 50, metric: 'requestsPerSecond' },
  { id: 'big', label: '100 MiB file, wrk -t1 -c4', unit: 'MB/s', path: `/${BIG_FILE}`, connections: 4, metric: 'megabytesPerSecond' },
];

interface Contender {
  key: string;
  title: string;
  /** The server to start, or why it cannot be. */
  spec(port: number, root: string): ServerSpec | string;
}

function nodeBin(name: string, npmPackage: string): string | { missing: string } {
  const dirs = [join(repoRoot, 'node_modules', '.bin'), ...(process.env.WHARF_BENCH_NODE_BIN ? [process.env.WHARF_BENCH_NODE_BIN] : [])];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return { missing: `the npm package ${npmPackage} is not installed (a devDependency: npm install)` };
}

function contenders(wharfCli: string | undefined): Contender[] {
  const wharf = (workers: number) => (port: number, root: string): ServerSpec | string => {
    if (wharfCli === undefined) return 'wharf is not built';
    // A data folder each: the servers run side by side, and a wharf server refuses a folder another one serves.
    const wharfData = join(tmpDir, `wharf-data-web-${workers}`);
    const args = [wharfCli, 'web', 'serve', '--port', String(port), '--root', root, '--log-level', 'warn', '--access-log', 'off', '--data', wharfData];
    if (workers > 1) args.push('--workers', String(workers));
    return {
      name: `wharf${workers > 1 ? ` --workers ${workers}` : ''}`,
      command: process.execPath,
      args,
      ready: { tcp: port },
      ...(workers > 1 ? { processes: workers + 1, settleMs: 1_000 } : {}),
    };
  };
  const node = (key: string, title: string, bin: string, npmPackage: string, args: (port: number, root: string) => string[]): Contender => ({
    key,
    title,
    spec(port, root) {
      const path = nodeBin(bin, npmPackage);
      if (typeof path !== 'string') return path.missing;
      return { name: title, command: process.execPath, args: [path, ...args(port, root)], ready: { tcp: port } };
    },
  });
  return [
    { key: 'wharf', title: 'wharf', spec: wharf(1) },
    { key: 'wharf2', title: 'wharf --workers 2', spec: wharf(2) },
    {
      key: 'nginx',
      title: 'nginx (1 worker)',
      spec(port, root) {
        const startSh = join(ANCHORS_DIR, 'start.sh');
        if (!existsSync(startSh)) return `${startSh} not found`;
        if (!['/usr/sbin/nginx', '/usr/bin/nginx'].some((p) => existsSync(p))) return 'nginx is not installed (apt-get install nginx)';
        return { name: 'nginx', command: 'bash', args: [startSh, 'nginx', String(port), root], ready: { tcp: port } };
      },
    },
    node('serve', 'serve', 'serve', 'serve', (port, root) => [root, '--listen', `tcp://127.0.0.1:${port}`, '--no-request-logging', '--no-clipboard', '--no-port-switching']),
    node('sirv', 'sirv-cli', 'sirv', 'sirv-cli', (port, root) => [root, '--host', '127.0.0.1', '--port', String(port), '--quiet']),
    node('httpServer', 'http-server', 'http-server', 'http-server', (port, root) => [root, '-a', '127.0.0.1', '-p', String(port), '-s']),
  ];
}

/** The web root the servers share: a 1 KiB text file and a 100 MiB file of random bytes. */
function prepareRoot(): string {
  const root = join(tmpDir, 'web-root');
  mkdirSync(root, { recursive: true });
  const small = join(root, SMALL_FILE);
  if (!existsSync(small) || statSync(small).size !== 1024) writeFileSync(small, 'wharf bench '.repeat(100).slice(0, 1023) + '\n');
  const big = join(root, BIG_FILE);
  if (!existsSync(big) || statSync(big).size !== BIG_BYTES) {
    const fd = openSync(big, 'w');
    const block = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < BIG_BYTES / block.length; i++) writeSync(fd, randomFillSync(block));
    closeSync(fd);
  }
  return root;
}

interface WrkResult {
  error?: string;
  requests: number;
  seconds: number;
  bytes: number;
  requestsPerSecond: number;
  megabytesPerSecond: number;
  /** The server's CPU (all its processes), % of one core over the counted run. */
  serverCpuPercent: number;
  socketErrors?: string;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

export function parseWrk(output: string): Omit<WrkResult, 'serverCpuPercent'> {
  const summary = /(\d+) requests in ([\d.]+)(ms|s|m), ([\d.]+)(B|KB|MB|GB|TB) read/.exec(output);
  if (!summary) return { error: `cannot read wrk's output: ${output.trim().split('\n').slice(-3).join(' / ')}`, requests: 0, seconds: 0, bytes: 0, requestsPerSecond: 0, megabytesPerSecond: 0 };
  const requests = Number(summary[1]);
  const seconds = Number(summary[2]) * (summary[3] === 'ms' ? 0.001 : summary[3] === 'm' ? 60 : 1);
  const bytes = Number(summary[4]) * (UNITS[summary[5]!] ?? 1);
  const result: Omit<WrkResult, 'serverCpuPercent'> = { requests, seconds, bytes, requestsPerSecond: requests / seconds, megabytesPerSecond: bytes / seconds / 1e6 };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  if (non2xx) result.error = `${non2xx[1]} responses were not 2xx/3xx`;
  const socketErrors = /Socket errors: (.+)/.exec(output);
  if (socketErrors) result.socketErrors = socketErrors[1]!.trim();
  return result;
}

async function runWrk(port: number, testCase: Case, seconds: number, server: ServerProcess): Promise<WrkResult> {
  const url = `http://127.0.0.1:${port}${testCase.path}`;
  const args = ['-t1', `-c${testCase.connections}`, `-d${seconds}s`, '--timeout', '10s', url];
  const pids = server.pids();
  const cpuBefore = cpuSeconds(pids);
  const started = process.hrtime.bigint();
  const result = await runCommand('wrk', args, { timeoutMs: (seconds + 20) * 1000 });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuSeconds(pids) - cpuBefore;
  if (result.code !== 0) return { error: `wrk exited with ${result.code}: ${result.stderr.trim()}`, requests: 0, seconds: 0, bytes: 0, requestsPerSecond: 0, megabytesPerSecond: 0, serverCpuPercent: 0 };
  return { ...parseWrk(result.stdout), serverCpuPercent: (cpu / wall) * 100 };
}

interface Cell {
  caseId: Case['id'];
  contender: string;
  round: number;
  result: WrkResult;
}

const SMALL_RATIOS: RatioColumn[] = [
  { title: 'wharf/nginx', numerator: 'wharf', denominator: 'nginx', target: 0.65 },
  { title: 'wharf/serve', numerator: 'wharf', denominator: 'serve', target: 1.0 },
  { title: 'wharf/sirv', numerator: 'wharf', denominator: 'sirv', target: 1.0 },
  { title: 'wharf/http-server', numerator: 'wharf', denominator: 'httpServer', target: 1.0 },
  { title: '×2 workers/nginx', numerator: 'wharf2', denominator: 'nginx' },
];
const BIG_RATIOS: RatioColumn[] = [
  { title: 'wharf/nginx', numerator: 'wharf', denominator: 'nginx', target: 0.9 },
  { title: 'wharf/serve', numerator: 'wharf', denominator: 'serve' },
  { title: 'wharf/sirv', numerator: 'wharf', denominator: 'sirv' },
  { title: 'wharf/http-server', numerator: 'wharf', denominator: 'httpServer' },
  { title: '×2 workers/nginx', numerator: 'wharf2', denominator: 'nginx' },
];

export const benchmark: Benchmark = { name: 'web', rounds: { quick: 1, full: 3 }, durationSeconds: { quick: 2, full: 5 }, measure };

async function measure(run: BenchmarkRun): Promise<void> {
  const { rounds, durationSeconds, missing, build } = run;
  const warmupSeconds = run.quick ? 0.5 : 1;

  const wrk = await runCommand('sh', ['-c', 'command -v wrk']).catch(() => ({ code: 1 }));
  if (wrk.code !== 0) throw new Error('wrk is not installed (apt-get install wrk)');
  const root = prepareRoot();

  const all = contenders(run.wharfCli);
  const servers = await run.startServers(all, (contender, port) => contender.spec(port, root));
  const measured = all.filter((c) => servers.has(c.key));

  const cells: Cell[] = [];
  const total = rounds * CASES.length * measured.length;
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [caseIndex, testCase] of CASES.entries()) {
      for (const contender of rotate(measured, round + caseIndex)) {
        const running = servers.get(contender.key)!;
        done++;
        let result: WrkResult;
        if (!running.server.running) {
          result = { error: `server exited:\n${running.server.output}`, requests: 0, seconds: 0, bytes: 0, requestsPerSecond: 0, megabytesPerSecond: 0, serverCpuPercent: 0 };
        } else {
          await runWrk(running.port, testCase, warmupSeconds, running.server);
          result = await runWrk(running.port, testCase, durationSeconds, running.server);
        }
        cells.push({ caseId: testCase.id, contender: contender.key, round, result });
        const progress = `[${String(done).padStart(String(total).length)}/${total}] round ${round + 1} ${testCase.label.padEnd(26)} ${contender.title.padEnd(18)}`;
        if (result.error) process.stdout.write(`${progress} ERROR ${result.error.split('\n')[0]}\n`);
        else process.stdout.write(`${progress} ${formatNumber(result[testCase.metric]).padStart(9)} ${testCase.unit.padEnd(6)} server cpu ${result.serverCpuPercent.toFixed(0).padStart(3)}%\n`);
      }
    }
  }
  await Promise.all([...servers.values()].map(({ server }) => server.stop()));

  // ---- aggregate ----
  const cellsOf = (caseId: string, key: string) => cells.filter((c) => c.caseId === caseId && c.contender === key && !c.result.error);
  const columns: ValueColumn[] = all.map((c) => ({ key: c.key, title: c.title }));
  const rowOf = (testCase: Case): ResultRow => ({
    label: testCase.label,
    unit: testCase.unit,
    values: Object.fromEntries(
      all.map((c) => {
        const values = cellsOf(testCase.id, c.key).map((cell) => cell.result[testCase.metric]);
        return [c.key, values.length > 0 ? median(values) : undefined];
      }),
    ),
    ratios: pairedRatios(ratiosOf(testCase), rounds, (key, round) => cellsOf(testCase.id, key).find((cell) => cell.round === round)?.result[testCase.metric]),
  });
  const ratiosOf = (testCase: Case): RatioColumn[] => (testCase.id === 'small' ? SMALL_RATIOS : BIG_RATIOS);
  const tables = CASES.map((testCase) => ({ testCase, row: rowOf(testCase), ratios: ratiosOf(testCase) }));
  const grids = tables.map(({ row, ratios }) => resultsGrid({ rowHeader: 'case', columns, ratios, rows: [row] }));

  const costGrid = contenderGrid('server CPU: % of one core / µs per request (big file: ms per 100 MB)', CASES, all, (testCase, c) => {
    const list = cellsOf(testCase.id, c.key);
    if (list.length === 0) return '–';
    const percent = median(list.map((cell) => cell.result.serverCpuPercent));
    const cost = median(
      list.map(({ result: r }) => {
        const cpuSeconds = (r.serverCpuPercent / 100) * r.seconds;
        return testCase.metric === 'requestsPerSecond' ? (cpuSeconds * 1e6) / r.requests : (cpuSeconds * 1e3) / (r.bytes / 1e8);
      }),
    );
    return `${percent.toFixed(0)}% / ${cost.toFixed(1)}`;
  });

  // ---- verdicts ----
  const verdicts: string[] = [];
  const spreadNotes: string[] = [];
  for (const { testCase, row, ratios } of tables) {
    for (const ratio of ratios.filter((r) => r.target !== undefined)) {
      const value = ratioValue(row, ratio);
      if (value !== undefined && value < ratio.target!) verdicts.push(`${row.label}: ${ratio.title} = ${value.toFixed(2)} (target ≥ ${ratio.target})`);
    }
    for (const c of all) {
      const values = cellsOf(testCase.id, c.key).map((cell) => cell.result[testCase.metric]);
      if (values.length > 1 && spread(values) > 0.25) spreadNotes.push(`${testCase.id} / ${c.title}: rounds ${values.map((v) => formatNumber(v)).join(', ')}`);
    }
  }
  const errors = cells.filter((c) => c.result.error).map((c) => `${c.caseId} ${c.contender} round ${c.round + 1}: ${c.result.error!.split('\n')[0]}`);
  const socketNotes = cells.filter((c) => c.result.socketErrors).map((c) => `${c.caseId} ${c.contender} round ${c.round + 1}: ${c.result.socketErrors}`);
  for (const [key, reason] of missing) run.notes.push(`${all.find((c) => c.key === key)?.title ?? key} not measured: ${reason.split('\n')[0]}`);

  const { machine, command, measuredLine } = run.facts();
  const method =
    `${rounds} round${rounds > 1 ? 's' : ''}, servers interleaved, ${durationSeconds} s counted per cell after ${warmupSeconds} s of warm-up; ` +
    'each figure is the median over the rounds, each ratio the median of the per-round ratios.';

  const out: string[] = ['', `web benchmark — ${describeMachine(machine)} — ${method}`];
  for (const grid of grids) out.push('', renderText(grid));
  out.push('', renderText(costGrid));
  if (verdicts.length) out.push('', 'Targets missed (a "!" in the table):', ...verdicts.map((v) => `  ${v}`));
  else if (build.ok && servers.has('nginx')) out.push('', 'Targets met: 1 KiB ≥ 0.65× nginx and ahead of every Node server; 100 MiB ≥ 0.9× nginx.');
  const doc: string[] = [
    '## web',
    '',
    `${measuredLine} ${method} ` +
      'wrk (one thread) fetches a 1 KiB text file over 50 keep-alive connections, and a 100 MiB file over 4; ' +
      'MB is 10^6 bytes. nginx runs with 1 worker, sendfile on and no access log (the anchors\' start.sh); wharf with ' +
      '`--access-log off --log-level warn`; serve, sirv-cli and http-server with their defaults, request logging off. ' +
      'wrk sends no Accept-Encoding, so nobody compresses.',
  ];
  for (const grid of grids) doc.push('', renderMarkdown(grid));
  doc.push(
    '',
    verdicts.length
      ? `Targets missed (marked "!"): ${verdicts.join('; ')}.`
      : build.ok && servers.has('nginx')
        ? 'Targets met: on the 1 KiB file wharf (one process) is at least 0.65× nginx and ahead of every Node server; on the 100 MiB file at least 0.9× nginx.'
        : '',
    '',
    'Server CPU while counting (median over the rounds): its share of one core, and its cost per request (1 KiB) or per 100 MB (100 MiB). ' +
      'wrk itself needs most of a core, and the machine has two, so a server that needs a whole core cannot get it: the cost column is the fairer comparison when the machine is busy.',
    '',
    renderMarkdown(costGrid),
  );
  run.finish({
    terminal: out,
    doc,
    remarks: { noisy: spreadNotes, extra: [{ heading: 'wrk socket errors', items: socketNotes }], errors },
    results: { machine, command, rounds, durationSeconds, warmupSeconds, cells },
  });
}
