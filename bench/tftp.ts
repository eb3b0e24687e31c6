/**
 * `npm run bench -- tftp`: wharf's TFTP server side by side with atftpd (the anchor) in one run.
 *
 * Both servers serve the same 32 MiB file of random bytes from the same folder, each in its own
 * process on 127.0.0.1 for the whole run. Each row is one real client: curl in lockstep with
 * blksize 512, 1468 and 65464, then windowed transfers (RFC 7440) with blksize 1468 and
 * windowsize 16, by atftp and by wharf's own client. Before anything is timed, every client
 * downloads the file once from every server and the copy is checked with sha256 (which also warms
 * the servers up). Then, in each round and row, downloads alternate between the servers one
 * transfer at a time until each has had `--duration` seconds, so that both see the same share of
 * whatever else the (shared, noisy) machine is doing; each figure is the median over the rounds.
 * Server CPU (all threads, from /proc) is sampled around every transfer.
 *
 * Run it with `npm run bench -- tftp [--quick]`.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { TftpClient } from '../src/services/tftp/client.js';
import type { Benchmark, BenchmarkRun } from './lib/run-benchmark.js';
import { tmpDir } from './lib/paths.js';
import { cpuSeconds, type ServerProcess, type ServerSpec } from './lib/processes.js';
import { describeMachine } from './lib/report.js';
import { median, pairedRatios, spread } from './lib/stats.js';
import { contenderGrid, formatNumber, ratioValue, renderMarkdown, renderText, resultsGrid, type Grid, type RatioColumn, type ResultRow, type ValueColumn } from './lib/table.js';

const ANCHORS_DIR = process.env.WHARF_ANCHORS ?? '/work/shared/anchors';
const FILE_NAME = 'bench-32MiB.bin';
const FILE_BYTES = 32 * 1024 * 1024;
/** A folder atftpd (which drops to `nobody`) can read: not under a private home. */
const ROOT = join(tmpdir(), 'wharf-bench-tftp');

type ClientKind = 'curl' | 'atftp' | 'wharf';

interface Row {
  id: string;
  label: string;
  client: ClientKind;
  blockSize: number;
  windowSize: number;
}

const ROWS: Row[] = [
  { id: 'curl-512', label: 'curl, blksize 512', client: 'curl', blockSize: 512, windowSize: 1 },
  { id: 'curl-1468', label: 'curl, blksize 1468', client: 'curl', blockSize: 1468, windowSize: 1 },
  { id: 'curl-65464', label: 'curl, blksize 65464', client: 'curl', blockSize: 65464, windowSize: 1 },
  { id: 'atftp-1468x16', label: 'atftp, blksize 1468, windowsize 16', client: 'atftp', blockSize: 1468, windowSize: 16 },
  { id: 'wharf-1468x16', label: 'wharf client, blksize 1468, windowsize 16', client: 'wharf', blockSize: 1468, windowSize: 16 },
];

interface Contender {
  key: string;
  title: string;
  spec(port: number, wharfCli: string | undefined): ServerSpec | undefined;
}

const CONTENDERS: Contender[] = [
  {
    key: 'wharf',
    title: 'wharf',
    spec: (port, wharfCli) =>
      wharfCli === undefined
        ? undefined
        : {
            name: 'wharf tftp',
            command: process.execPath,
            args: [wharfCli, 'tftp', 'serve', '--port', String(port), '--root', ROOT, '--data', join(tmpDir, 'wharf-data'), '--log-level', 'warn'],
            // Any TFTP server answers a garbage datagram with an ERROR: that is "ready".
            ready: { udpEcho: port },
          },
  },
  {
    key: 'atftpd',
    title: 'atftpd',
    spec: (port) => {
      const startSh = join(ANCHORS_DIR, 'start.sh');
      if (existsSync(startSh)) return { name: 'atftpd (anchors/start.sh)', command: 'bash', args: [startSh, 'atftpd', String(port), ROOT], ready: { udpEcho: port } };
      return {
        name: 'atftpd',
        command: 'atftpd',
        args: ['--daemon', '--no-fork', '--port', String(port), '--bind-address', '127.0.0.1', '--logfile', join(tmpDir, 'atftpd.log'), ROOT],
        ready: { udpEcho: port },
      };
    },
  },
];

const RATIOS: RatioColumn[] = [{ title: 'wharf/atftpd', numerator: 'wharf', denominator: 'atftpd', target: 1.0 }];

interface Cell {
  row: string;
  contender: string;
  round: number;
  transfers: number;
  seconds: number;
  megabytesPerSecond: number;
  /** Server CPU (user+system, all threads) per transfer, ms. */
  serverCpuMs: number;
  error?: string;
}

function hasCommand(command: string): boolean {
  const path = (process.env.PATH ?? '').split(':');
  return path.some((dir) => dir !== '' && existsSync(join(dir, command)));
}

/** The test file: 32 MiB of random bytes, made once, readable by everyone (atftpd runs as nobody). */
async function prepareFile(): Promise<{ path: string; sha256: string }> {
  mkdirSync(ROOT, { recursive: true });
  chmodSync(ROOT, 0o755);
  const path = join(ROOT, FILE_NAME);
  if (!existsSync(path) || statSync(path).size !== FILE_BYTES) {
    writeFileSync(path, randomBytes(FILE_BYTES));
  }
  chmodSync(path, 0o644);
  return { path, sha256: await sha256File(path) };
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

function runClient(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * One download of the file by `row`'s client from `port`, into `output` (a path, or /dev/null).
 * Returns the seconds the client itself measured, when it can tell (curl's %{time_total}: from
 * its start of the transfer to the end, without the process's own start-up of about 25 ms,
 * which at blksize 65464 would otherwise be a third of the time and hide the servers' difference).
 */
async function download(row: Row, port: number, output: string): Promise<number | undefined> {
  const timeoutMs = 120_000;
  if (row.client === 'curl') {
    const result = await runClient('curl', ['-s', '-S', '--tftp-blksize', String(row.blockSize), '-o', output, '-w', '%{time_total}', `tftp://127.0.0.1:${port}/${FILE_NAME}`], timeoutMs);
    if (result.code !== 0) throw new Error(`curl exited ${result.code}: ${result.stderr.trim()}`);
    const seconds = Number(result.stdout.trim());
    if (!(seconds > 0)) throw new Error(`curl printed no time: ${JSON.stringify(result.stdout)}`);
    return seconds;
  }
  if (row.client === 'atftp') {
    const options = ['--option', `blksize ${row.blockSize}`, ...(row.windowSize > 1 ? ['--option', `windowsize ${row.windowSize}`] : [])];
    const result = await runClient('atftp', [...options, '-g', '-r', FILE_NAME, '-l', output, '127.0.0.1', String(port)], timeoutMs);
    if (result.code !== 0) throw new Error(`atftp exited ${result.code}: ${result.stderr.trim()}`);
    return undefined;
  }
  const client = await TftpClient.connect({ host: '127.0.0.1', port, blockSize: row.blockSize, windowSize: row.windowSize, timeoutMs: 1_000, retries: 5 });
  const sink =
    output === '/dev/null'
      ? new Writable({
          write(_chunk, _encoding, callback) {
            callback();
          },
        })
      : output;
  await client.get(FILE_NAME, sink);
  return undefined;
}

interface Tally {
  transfers: number;
  seconds: number;
  cpuMs: number;
}

/**
 * One row of one round: downloads alternate between the servers, one transfer at a time, until
 * each server has had `durationSeconds` of transfers. Alternating transfer by transfer (rather
 * than one server for a few seconds, then the other) gives both the same share of whatever else
 * the machine is doing meanwhile.
 */
async function measureRow(
  row: Row,
  contenders: Contender[],
  servers: Map<string, { server: ServerProcess; port: number }>,
  durationSeconds: number,
  firstIndex: number,
): Promise<Map<string, Tally | Error>> {
  const tallies = new Map<string, Tally | Error>(contenders.map((c) => [c.key, { transfers: 0, seconds: 0, cpuMs: 0 }]));
  const pending = () => contenders.filter((c) => {
    const tally = tallies.get(c.key)!;
    return !(tally instanceof Error) && (tally.transfers === 0 || tally.seconds < durationSeconds);
  });
  let turn = firstIndex;
  for (let open = pending(); open.length > 0; open = pending()) {
    const contender = open[turn++ % open.length]!;
    const { server, port } = servers.get(contender.key)!;
    const tally = tallies.get(contender.key) as Tally;
    try {
      if (!server.running) throw new Error(`server exited:\n${server.output}`);
      const cpuBefore = cpuSeconds([server.pid]) * 1000;
      const started = performance.now();
      const measured = await download(row, port, '/dev/null');
      tally.seconds += measured ?? (performance.now() - started) / 1000;
      tally.cpuMs += cpuSeconds([server.pid]) * 1000 - cpuBefore;
      tally.transfers++;
    } catch (error) {
      tallies.set(contender.key, error instanceof Error ? error : new Error(String(error)));
    }
  }
  return tallies;
}

export const benchmark: Benchmark = { name: 'tftp', rounds: { quick: 1, full: 3 }, durationSeconds: { quick: 1, full: 3 }, measure };

async function measure(run: BenchmarkRun): Promise<void> {
  const { rounds, durationSeconds, loadBefore, build } = run;

  const rows = ROWS.filter((row) => {
    if (row.client === 'wharf' || hasCommand(row.client)) return true;
    run.note(`${row.label}: not measured, ${row.client} is not installed`);
    return false;
  });

  const file = await prepareFile();
  const servers = await run.startServers(CONTENDERS, (contender, port) => contender.spec(port, run.wharfCli));
  for (const [key, reason] of run.missing) run.notes.push(`${CONTENDERS.find((c) => c.key === key)?.title ?? key} not measured: ${reason.split('\n')[0]}`);
  const contenders = CONTENDERS.filter((c) => servers.has(c.key));

  // Every client against every server once, checked byte for byte (and a warm-up).
  const failed = new Set<string>();
  const check = join(tmpDir, 'tftp-check.bin');
  for (const row of rows) {
    for (const contender of contenders) {
      const { port } = servers.get(contender.key)!;
      try {
        await download(row, port, check);
        const digest = await sha256File(check);
        if (digest !== file.sha256) throw new Error(`the copy differs (sha256 ${digest.slice(0, 12)}…, expected ${file.sha256.slice(0, 12)}…)`);
        process.stdout.write(`check: ${row.label.padEnd(42)} ${contender.title.padEnd(7)} sha256 ok\n`);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        failed.add(`${row.id}/${contender.key}`);
        run.notes.push(`${row.label} / ${contender.title}: check failed: ${reason}`);
        process.stdout.write(`check: ${row.label.padEnd(42)} ${contender.title.padEnd(7)} FAILED ${reason}\n`);
      }
    }
  }

  const cells: Cell[] = [];
  const total = rounds * rows.length;
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [rowIndex, row] of rows.entries()) {
      done++;
      const measured = contenders.filter((c) => !failed.has(`${row.id}/${c.key}`));
      const tallies = await measureRow(row, measured, servers, durationSeconds, round + rowIndex);
      const parts: string[] = [];
      for (const contender of measured) {
        const tally = tallies.get(contender.key)!;
        if (tally instanceof Error) {
          cells.push({ row: row.id, contender: contender.key, round, transfers: 0, seconds: 0, megabytesPerSecond: Number.NaN, serverCpuMs: Number.NaN, error: tally.message });
          parts.push(`${contender.title} ERROR ${tally.message.split('\n')[0]}`);
          continue;
        }
        const megabytesPerSecond = (tally.transfers * FILE_BYTES) / 1e6 / tally.seconds;
        cells.push({ row: row.id, contender: contender.key, round, transfers: tally.transfers, seconds: tally.seconds, megabytesPerSecond, serverCpuMs: tally.cpuMs / tally.transfers });
        parts.push(`${contender.title} ${formatNumber(megabytesPerSecond)} MB/s (${tally.transfers} in ${tally.seconds.toFixed(1)} s, CPU ${formatNumber(tally.cpuMs / tally.transfers)} ms each)`);
      }
      process.stdout.write(`[${String(done).padStart(String(total).length)}/${total}] round ${round + 1} ${row.label.padEnd(42)} ${parts.join('  ')}\n`);
    }
  }
  await Promise.all([...servers.values()].map(({ server }) => server.stop()));

  // ---- aggregate ----
  const cellsOf = (rowId: string, key: string) => cells.filter((c) => c.row === rowId && c.contender === key && c.error === undefined);
  const columns: ValueColumn[] = contenders.map((c) => ({ key: c.key, title: c.title }));
  const resultRows: ResultRow[] = rows.map((row) => ({
    label: row.label,
    unit: 'MB/s',
    values: Object.fromEntries(
      contenders.map((c) => {
        const values = cellsOf(row.id, c.key).map((cell) => cell.megabytesPerSecond);
        return [c.key, values.length > 0 ? median(values) : undefined];
      }),
    ),
    ratios: pairedRatios(RATIOS, rounds, (key, round) => cellsOf(row.id, key).find((cell) => cell.round === round)?.megabytesPerSecond),
  }));
  const results = resultsGrid({ rowHeader: '32 MiB download', columns, ratios: RATIOS, rows: resultRows });
  const cpuGrid = contenderGrid('server CPU per 32 MiB, ms (median)', rows, contenders, (row, c) => {
    const list = cellsOf(row.id, c.key);
    return list.length > 0 ? formatNumber(median(list.map((cell) => cell.serverCpuMs))) : '–';
  });

  const verdicts: string[] = [];
  const spreadNotes: string[] = [];
  for (const [i, resultRow] of resultRows.entries()) {
    for (const ratio of RATIOS) {
      const value = ratioValue(resultRow, ratio);
      if (value !== undefined && ratio.target !== undefined && value < ratio.target) verdicts.push(`${resultRow.label}: ${ratio.title} = ${value.toFixed(2)}`);
    }
    for (const c of contenders) {
      const values = cellsOf(rows[i]!.id, c.key).map((cell) => cell.megabytesPerSecond);
      if (values.length > 1 && spread(values) > 0.25) spreadNotes.push(`${resultRow.label} / ${c.title}: ${values.map((v) => formatNumber(v)).join(', ')} MB/s`);
    }
  }
  // Paired ratios: within a round both servers ran under the same conditions, transfer by transfer.
  const pairedGrid: Grid = {
    headers: ['wharf/atftpd in each round', ...Array.from({ length: rounds }, (_, r) => `round ${r + 1}`)],
    align: ['l', ...Array.from({ length: rounds }, () => 'r' as const)],
    rows: rows.map((row) => [
      row.label,
      ...Array.from({ length: rounds }, (_, round) => {
        const of = (key: string) => cells.find((c) => c.row === row.id && c.contender === key && c.round === round && c.error === undefined)?.megabytesPerSecond;
        const a = of('wharf');
        const b = of('atftpd');
        return a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}×` : '–';
      }),
    ]),
  };
  const errors = cells.filter((c) => c.error !== undefined).map((c) => `${c.row} ${c.contender} round ${c.round + 1}: ${c.error!.split('\n')[0]}`);

  const { machine, command, measuredLine } = run.facts();
  // Lockstep TFTP is one round trip per block: on a shared machine the other load sets the pace.
  const load = `Load average (1 min) ${loadBefore.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end, on ${machine.nproc} cores.`;
  const method =
    `${rounds} round${rounds > 1 ? 's' : ''}; in each round and row the downloads alternate between the servers, one 32 MiB transfer at a time, ` +
    `until each server has had at least ${durationSeconds} s of them; each figure is the median over the rounds, each ratio the median of the per-round ratios. ` +
    'curl times its own transfers (%{time_total}, without its process start-up of about 25 ms); atftp transfers are timed from its start to its exit.';

  const out: string[] = ['', `tftp benchmark — ${describeMachine(machine)} — ${method} ${load}`, '', renderText(results), '', renderText(pairedGrid), '', renderText(cpuGrid)];
  if (verdicts.length) out.push('', 'Targets missed (a "!" in the table):', ...verdicts.map((v) => `  ${v}`));
  else if (build.ok && contenders.length === CONTENDERS.length) out.push('', 'Target met: wharf ≥ atftpd in every row.');
  const doc: string[] = [
    '## tftp',
    '',
    `${measuredLine} ${method} ` +
      'Both servers serve the same 32 MiB file of random bytes from one folder on 127.0.0.1; atftpd is started as in ' +
      '`anchors/start.sh`, wharf as `wharf tftp serve` with its defaults (so busy polling, 50 µs, is on: docs/tftp.md, "Lockstep speed"). The curl rows are lockstep (one ACK per block); the windowed rows ' +
      'use RFC 7440 with 16 blocks per ACK. Every client\'s copy from every server was checked with sha256 before timing. ' +
      'The wharf client runs inside the benchmark process (no start-up cost); curl and atftp are started for every transfer. ' +
      load,
    '',
    renderMarkdown(results),
    '',
    verdicts.length ? `Targets missed (marked "!"): ${verdicts.join('; ')}.` : build.ok ? 'Target met: wharf ≥ atftpd in every row.' : '',
    '',
    'The ratio in each round (both servers measured under the same conditions, transfer by transfer):',
    '',
    renderMarkdown(pairedGrid),
    '',
    'Server CPU (user + system, all threads, from /proc) per 32 MiB transfer, median over the rounds:',
    '',
    renderMarkdown(cpuGrid),
  ];
  run.finish({
    terminal: out,
    doc,
    remarks: { noisy: spreadNotes, errors },
    results: { machine, command, rounds, durationSeconds, cells },
  });
}
