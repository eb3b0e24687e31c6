/**
 * `npm run bench -- diary`: entries stored per second by wharf's diary against the seed's own
 * diary server (seed 003, its Python 2 logic ported to Python 3: test/seeds/programs/
 * diary_server3.py), in one run, each with its own client, and how many entries each lost.
 *
 * - **seed server, seed protocol**: the seed's server (open, append, close daily.log per entry,
 *   print it) driven by a load client that speaks the seed's protocol as fast as the server
 *   answers: each client sends an entry, waits for the stamped line back, sends the next (the
 *   seed's client does the same, typing aside). An entry not answered within 1 s is counted as
 *   unanswered and the client goes on (the seed's client would hang).
 * - **wharf, seed protocol**: the same load client against `wharf diary serve`: the server side
 *   alone, same protocol, every entry committed to SQLite before its answer.
 * - **wharf, wharf's client**: `DiaryClient` (src/services/diary/client.ts) keeping entries
 *   queued: entries packed several per datagram, up to 1,024 unacknowledged, each acknowledged
 *   after its transaction committed.
 * - **wharf, wharf's client, fsync**: the same with `diary.fsync` (SQLite `synchronous=FULL`:
 *   an acknowledged entry survives a power cut too, not just a crash).
 *
 * Loss is counted from what is stored, not from what was answered: after each cell the bench
 * counts the cell's entries in daily.log / the database and compares with what its clients sent.
 * The load clients run in this process; the servers in their own. wharf's per-address rate limit
 * (2,000 datagrams/s by default) is raised for the run, since every client is on 127.0.0.1.
 */
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DiaryClient } from '../src/services/diary/client.js';
import type { Benchmark, BenchmarkRun } from './lib/run-benchmark.js';
import { repoRoot, tmpDir } from './lib/paths.js';
import { cpuSeconds, freePort, startServer, type ServerProcess, type ServerSpec } from './lib/processes.js';
import { describeMachine } from './lib/report.js';
import { median, pairedRatios, rotate, spread } from './lib/stats.js';
import { contenderGrid, formatNumber, ratioValue, renderMarkdown, renderText, resultsGrid, type RatioColumn, type ResultRow, type ValueColumn } from './lib/table.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SEED_SERVER = join(repoRoot, 'test', 'seeds', 'programs', 'diary_server3.py');

interface Case {
  id: string;
  label: string;
  clients: number;
}

const CASES: Case[] = [
  { id: 'c1', label: '1 client', clients: 1 },
  { id: 'c10', label: '10 clients', clients: 10 },
];

type Protocol = 'seed' | 'wharf';

interface Contender {
  key: string;
  title: string;
  protocol: Protocol;
  /** The server this contender talks to. */
  server: 'seed' | 'wharf' | 'wharfFsync';
}

const CONTENDERS: Contender[] = [
  { key: 'seed', title: 'seed server, seed protocol', protocol: 'seed', server: 'seed' },
  { key: 'wharfSeed', title: 'wharf, seed protocol', protocol: 'seed', server: 'wharf' },
  { key: 'wharf', title: "wharf, wharf's client", protocol: 'wharf', server: 'wharf' },
  { key: 'wharfFsync', title: "wharf, wharf's client, fsync", protocol: 'wharf', server: 'wharfFsync' },
];

const RATIOS: RatioColumn[] = [
  { title: "wharf's client / seed", numerator: 'wharf', denominator: 'seed', target: 5 },
  { title: 'wharf / seed, seed protocol', numerator: 'wharfSeed', denominator: 'seed' },
  { title: 'fsync / seed', numerator: 'wharfFsync', denominator: 'seed' },
];

interface LoadResult {
  /** Entries confirmed (answered / acknowledged) during the counted window. */
  confirmed: number;
  seconds: number;
  /** Entries of the counted window the clients sent (each once, whatever was resent). */
  sent: number;
  /** Sent and never confirmed (the seed load gives up after 1 s; wharf's client never does). */
  unconfirmed: number;
  /** This process's CPU (the load clients), % of one core over the window. */
  clientCpuPercent: number;
}

interface CellResult extends LoadResult {
  stored: number;
  /** Rows stored more than once (wharf: same text twice). */
  doubled: number;
  lossPercent: number;
  entriesPerSecond: number;
  serverCpuPercent: number;
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Entry texts: unique, about the size of a diary line, with a bit of Chinese. */
const entryText = (prefix: string, client: number, n: number) => `${prefix} c${client} n${n} 今天天气很好，写一篇日记`;

/**
 * The seed protocol, as fast as the server answers: `clients` sockets, each with one entry
 * outstanding. Warm-up entries carry the prefix `${prefix}-warm`.
 */
async function seedLoad(port: number, clients: number, prefix: string, warmupSeconds: number, durationSeconds: number): Promise<LoadResult> {
  let phase: 'warm' | 'count' | 'drain' = 'warm';
  let confirmed = 0;
  let sent = 0;
  let unconfirmed = 0;
  const sockets: dgram.Socket[] = [];
  const finished: Array<Promise<void>> = [];
  for (let c = 0; c < clients; c++) {
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    finished.push(
      new Promise<void>((resolve) => {
        let n = 0;
        let timer: NodeJS.Timeout | undefined;
        let counted = false;
        const next = () => {
          clearTimeout(timer);
          if (phase === 'drain') return resolve();
          counted = phase === 'count';
          if (counted) sent += 1;
          socket.send(entryText(counted ? prefix : `${prefix}-warm`, c, n++), port, '127.0.0.1');
          timer = setTimeout(() => {
            if (counted) unconfirmed += 1;
            next();
          }, 1_000);
        };
        socket.on('message', () => {
          if (counted && phase === 'count') confirmed += 1;
          next();
        });
        next();
      }),
    );
  }
  await sleep(warmupSeconds * 1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  phase = 'count';
  await sleep(durationSeconds * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const confirmedInWindow = confirmed;
  phase = 'drain';
  // Each client's last entry is answered (or times out) before its socket closes.
  await Promise.all(finished);
  for (const socket of sockets) socket.close();
  return { confirmed: confirmedInWindow, seconds, sent, unconfirmed, clientCpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100 };
}

/** wharf's client, each keeping `queued` entries written and not yet acknowledged (a little over its window of 1,024). */
async function wharfLoad(port: number, clients: number, prefix: string, warmupSeconds: number, durationSeconds: number, queued = 1280): Promise<LoadResult> {
  let phase: 'warm' | 'count' | 'drain' = 'warm';
  let confirmed = 0;
  let sent = 0;
  let failed = 0;
  const open = await Promise.all(Array.from({ length: clients }, () => DiaryClient.connect({ port, timeoutMs: 30_000 })));
  const loops = open.map(
    (client, c) =>
      new Promise<void>((resolve) => {
        let n = 0;
        let pending = 0;
        let refillScheduled = false;
        const settled = () => {
          pending -= 1;
          if (phase === 'drain') {
            if (pending === 0) resolve();
          } else if (!refillScheduled) {
            refillScheduled = true;
            setImmediate(refill);
          }
        };
        // Shared callbacks (not two closures per entry): the generator should cost little.
        const acknowledged = () => {
          if (phase === 'count') confirmed += 1;
          settled();
        };
        const failedWarm = () => settled();
        const failedCounted = () => {
          failed += 1;
          settled();
        };
        const refill = () => {
          refillScheduled = false;
          while (phase !== 'drain' && pending < queued) {
            const counted = phase === 'count';
            if (counted) sent += 1;
            pending += 1;
            client.write(entryText(counted ? prefix : `${prefix}-warm`, c, n++)).then(acknowledged, counted ? failedCounted : failedWarm);
          }
        };
        refill();
      }),
  );
  await sleep(warmupSeconds * 1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  phase = 'count';
  await sleep(durationSeconds * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const confirmedInWindow = confirmed;
  phase = 'drain';
  await Promise.all(loops);
  await Promise.all(open.map((client) => client.close()));
  return { confirmed: confirmedInWindow, seconds, sent, unconfirmed: failed, clientCpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100 };
}

interface RunningServer {
  process: ServerProcess;
  port: number;
  /** How many entries starting with `prefix ` are stored, and how many of those are doubles. */
  count(prefix: string): { stored: number; doubled: number };
}

async function startSeed(): Promise<RunningServer> {
  const dir = join(tmpDir, 'diary-seed');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const spec: ServerSpec = { name: 'seed diary server (python3)', command: PYTHON, args: [SEED_SERVER, String(port), '127.0.0.1'], cwd: dir, ready: { udpEcho: port } };
  const process = await startServer(spec);
  return {
    process,
    port,
    count(prefix) {
      const marker = `] ${prefix} `;
      const lines = readFileSync(join(dir, 'daily.log'), 'utf8').split('\n').filter((line) => line.includes(marker));
      return { stored: lines.length, doubled: lines.length - new Set(lines.map((l) => l.slice(l.indexOf(marker)))).size };
    },
  };
}

async function startWharf(cli: string, fsync: boolean): Promise<RunningServer> {
  const data = join(tmpDir, fsync ? 'diary-wharf-fsync' : 'diary-wharf');
  rmSync(data, { recursive: true, force: true });
  const port = await freePort();
  const args = [cli, 'diary', 'serve', '--port', String(port), '--data', data, '--log-level', 'warn', '--set', 'diary.ratePerSecond=10000000'];
  if (fsync) args.push('--set', 'diary.fsync=true');
  const process = await startServer({ name: `wharf diary${fsync ? ' (fsync)' : ''}`, command: globalThis.process.execPath, args, ready: { udpEcho: port }, timeoutMs: 60_000 });
  let db: BetterSqlite3.Database | undefined;
  return {
    process,
    port,
    count(prefix) {
      db ??= new BetterSqlite3(join(data, 'wharf.db'), { readonly: true, fileMustExist: true });
      const row = db.prepare("select count(*) as n, count(distinct text) as d from diary_entries where text like ? || ' %'").get(prefix) as { n: number; d: number };
      return { stored: row.n, doubled: row.n - row.d };
    },
  };
}

export const benchmark: Benchmark = { name: 'diary', rounds: { quick: 1, full: 3 }, durationSeconds: { quick: 1.5, full: 3 }, measure };

async function measure(run: BenchmarkRun): Promise<void> {
  const { rounds, durationSeconds, loadBefore, build } = run;
  const warmupSeconds = run.quick ? 0.5 : 1;

  const servers = new Map<Contender['server'], RunningServer>();
  const missing = new Map<string, string>();
  const starters: Array<[Contender['server'], () => Promise<RunningServer>]> = [['seed', startSeed]];
  if (build.ok) starters.push(['wharf', () => startWharf(build.cli, false)], ['wharfFsync', () => startWharf(build.cli, true)]);
  for (const [name, start] of starters) {
    try {
      // freePort() only finds a port that was free a moment ago: on a busy machine, try again.
      let attempt = 0;
      for (;;) {
        try {
          servers.set(name, await start());
          break;
        } catch (error) {
          if (++attempt >= 3 || !/in use/i.test(String(error))) throw error;
        }
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      missing.set(name, reason);
      process.stderr.write(`bench: could not start ${name}: ${reason}\n`);
    }
  }
  const contenders = CONTENDERS.filter((c) => servers.has(c.server));

  const cells: Array<{ caseId: string; contender: string; round: number; result: CellResult }> = [];
  const total = rounds * CASES.length * contenders.length;
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [caseIndex, testCase] of CASES.entries()) {
      for (const contender of rotate(contenders, round + caseIndex)) {
        const server = servers.get(contender.server)!;
        done++;
        const prefix = `${testCase.id}-${contender.key}-r${round}`;
        let result: CellResult;
        if (!server.process.running) {
          result = { error: `server exited:\n${server.process.output}` } as CellResult;
        } else {
          const pids = server.process.pids();
          const cpu0 = cpuSeconds(pids);
          const t0 = performance.now();
          const load = await (contender.protocol === 'seed' ? seedLoad : wharfLoad)(server.port, testCase.clients, prefix, warmupSeconds, durationSeconds);
          // Server CPU over the whole cell (warm-up and drain too), per second of it.
          const serverCpuPercent = ((cpuSeconds(pids) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
          await sleep(200);
          const { stored, doubled } = server.count(prefix);
          const lost = Math.max(0, load.sent - (stored - doubled));
          result = {
            ...load,
            stored,
            doubled,
            lossPercent: load.sent > 0 ? (lost / load.sent) * 100 : 0,
            entriesPerSecond: load.confirmed / load.seconds,
            serverCpuPercent,
          };
        }
        cells.push({ caseId: testCase.id, contender: contender.key, round, result });
        const progress = `[${String(done).padStart(String(total).length)}/${total}] round ${round + 1} ${testCase.label.padEnd(10)} ${contender.title.padEnd(30)}`;
        if (result.error) process.stdout.write(`${progress} ERROR ${result.error}\n`);
        else {
          process.stdout.write(
            `${progress} ${formatNumber(result.entriesPerSecond).padStart(9)} entries/s  sent ${result.sent} stored ${result.stored}` +
              `${result.doubled ? ` doubled ${result.doubled}` : ''}  loss ${result.lossPercent.toFixed(2)}%  ` +
              `cpu: clients ${result.clientCpuPercent.toFixed(0)}% server ${result.serverCpuPercent.toFixed(0)}%\n`,
          );
        }
      }
    }
  }
  await Promise.all([...servers.values()].map(({ process: server }) => server.stop()));

  // ---- aggregate ----
  const ok = (caseId: string, key: string) => cells.filter((c) => c.caseId === caseId && c.contender === key && !c.result.error);
  const columns: ValueColumn[] = contenders.map((c) => ({ key: c.key, title: c.title }));
  const ratios = RATIOS.filter((r) => contenders.some((c) => c.key === r.numerator) && contenders.some((c) => c.key === r.denominator));
  const rows: ResultRow[] = CASES.map((testCase) => ({
    label: testCase.label,
    unit: 'entries/s',
    values: Object.fromEntries(
      contenders.map((c) => {
        const list = ok(testCase.id, c.key).map((cell) => cell.result.entriesPerSecond);
        return [c.key, list.length ? median(list) : undefined];
      }),
    ),
    ratios: pairedRatios(ratios, rounds, (key, round) => ok(testCase.id, key).find((cell) => cell.round === round)?.result.entriesPerSecond),
  }));
  const results = resultsGrid({ rowHeader: 'entries stored per second', columns, ratios, rows });

  const sum = (list: Array<{ result: CellResult }>, pick: (r: CellResult) => number) => list.reduce((a, c) => a + pick(c.result), 0);
  const lossGrid = contenderGrid('loss: entries sent / stored / lost (all rounds)', CASES, contenders, (testCase, c) => {
    const list = ok(testCase.id, c.key);
    if (!list.length) return '–';
    const sent = sum(list, (r) => r.sent);
    const stored = sum(list, (r) => r.stored);
    const lost = sum(list, (r) => Math.max(0, r.sent - (r.stored - r.doubled)));
    const doubled = sum(list, (r) => r.doubled);
    return `${sent.toLocaleString('en-US')} / ${stored.toLocaleString('en-US')} / ${lost}${doubled ? ` (+${doubled} doubled)` : ''}`;
  });
  const cpuGrid = contenderGrid('server CPU per entry stored, µs (clients / server, % of a core)', CASES, contenders, (testCase, c) => {
    const list = ok(testCase.id, c.key);
    if (!list.length) return '–';
    const perEntry = median(list.map(({ result: r }) => ((r.serverCpuPercent / 100) * 1e6) / Math.max(1, r.entriesPerSecond)));
    return `${perEntry.toFixed(1)} (${median(list.map((x) => x.result.clientCpuPercent)).toFixed(0)} / ${median(list.map((x) => x.result.serverCpuPercent)).toFixed(0)})`;
  });

  // ---- verdicts ----
  const verdicts: string[] = [];
  const spreadNotes: string[] = [];
  for (const [i, row] of rows.entries()) {
    for (const ratio of ratios.filter((r) => r.target !== undefined)) {
      const value = ratioValue(row, ratio);
      if (value !== undefined && value < ratio.target!) verdicts.push(`${row.label}: ${ratio.title} = ${value.toFixed(2)} (target ≥ ${ratio.target})`);
    }
    for (const c of contenders) {
      const values = ok(CASES[i]!.id, c.key).map((cell) => cell.result.entriesPerSecond);
      if (values.length > 1 && spread(values) > 0.25) spreadNotes.push(`${row.label} / ${c.title}: rounds ${values.map((v) => formatNumber(v)).join(', ')}`);
    }
  }
  const wharfLosses = cells.filter((c) => (c.contender === 'wharf' || c.contender === 'wharfFsync') && !c.result.error && (c.result.lossPercent > 0 || c.result.doubled > 0));
  for (const c of wharfLosses) verdicts.push(`${c.caseId} ${c.contender} round ${c.round + 1}: loss ${c.result.lossPercent.toFixed(3)}%, doubled ${c.result.doubled}`);
  const errors = cells.filter((c) => c.result.error).map((c) => `${c.caseId} ${c.contender} round ${c.round + 1}: ${c.result.error!.split('\n')[0]}`);
  for (const [key, reason] of missing) run.notes.push(`${key} not measured: ${reason.split('\n')[0]}`);

  const { machine, command, measuredLine } = run.facts();
  const method =
    `${rounds} round${rounds > 1 ? 's' : ''}, contenders interleaved, ${durationSeconds} s counted per cell after ${warmupSeconds} s of warm-up; ` +
    `each figure is the median over the rounds, each ratio the median of the per-round ratios. Load average of the machine: ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after ` +
    `(on ${machine.nproc} cores: other work shares them, so CPU per entry is the steadier figure).`;
  const targetLine = verdicts.length
    ? `Targets missed: ${verdicts.join('; ')}.`
    : contenders.some((c) => c.key === 'wharf') && contenders.some((c) => c.key === 'seed')
      ? "Target met: wharf's own client stores ≥ 5× the entries per second of the seed's server, with zero loss and no entry stored twice."
      : '';

  const out = ['', `diary benchmark — ${describeMachine(machine)} — ${method}`, '', renderText(results), '', renderText(lossGrid), '', renderText(cpuGrid), '', targetLine];
  const doc: string[] = [
    '## diary',
    '',
    `${measuredLine} ${method}`,
    '',
    "Entries stored per second by the seed's diary server (seed 003, ported to Python 3 line for line: " +
      '`test/seeds/programs/diary_server3.py`, one `open`/`write`/`close` of daily.log per entry) and by ' +
      "`wharf diary serve` (SQLite in WAL mode, every entry committed before it is answered), each with its own client. " +
      "The seed protocol's load client sends an entry and waits for the stamped line before the next, as the seed's client does; " +
      "wharf's client (`DiaryClient`) packs entries into datagrams and keeps up to 1,024 unacknowledged. " +
      "\"fsync\" adds `diary.fsync` (`synchronous=FULL`: an acknowledged entry survives a power cut, not only a crash). " +
      "The load clients run in the bench's Node process, the servers in their own; wharf's per-address rate limit is raised for the run.",
    '',
    renderMarkdown(results),
    '',
    targetLine,
    '',
    "Reading the rows: with the seed protocol a client has one entry outstanding, so with one client every entry waits for a " +
      "transaction of its own (a WAL commit, and a checkpoint every few hundred), where the seed appends a line to a file; that " +
      "is the price of being durable when answered, and group commit pays it back as soon as several clients write at once. " +
      "wharf's own client keeps many entries in flight, so every commit carries hundreds of them.",
    '',
    'Loss, counted from what is stored (daily.log lines or database rows with the cell\'s prefix) against what the clients sent:',
    '',
    renderMarkdown(lossGrid),
    '',
    "Server CPU per entry stored, median (in brackets: the load clients' and the server's CPU, % of one core):",
    '',
    renderMarkdown(cpuGrid),
  ];
  run.finish({
    terminal: out,
    doc,
    remarks: { noisy: spreadNotes, errors },
    results: { machine, command, rounds, durationSeconds, warmupSeconds, cells },
  });
}
