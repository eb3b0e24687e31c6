/**
 * `npm run bench -- ftp`: wharf's FTP server side by side with pyftpdlib and vsftpd (the anchors,
 * started by /work/shared/anchors/start.sh), in one run:
 *
 *   - RETR and STOR of a 100 MiB file with curl (MB/s of the data connection: curl's time from
 *     "transfer starts" to "226", so logins and PASV do not count);
 *   - 300 concurrent logins (seconds from 300 connects to the 300th 230);
 *   - RETR of the 100 MiB file while 300 other logged-in sessions sit idle;
 *   - resident memory of the server (all its processes) with those 300 sessions.
 *
 * Every server is started once, with its defaults, except that per-address connection limits are
 * lifted where they exist (wharf: ftp.maxConnectionsPerIp=0; pyftpdlib and vsftpd have none by
 * default). Rounds interleave the servers; figures are medians over the rounds.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { ReplyParser } from '../src/services/ftp/protocol/replies.js';
import type { Benchmark, BenchmarkRun } from './lib/run-benchmark.js';
import { tmpDir } from './lib/paths.js';
import { processTree, run as runCommand, startServer, type ServerProcess, type ServerSpec } from './lib/processes.js';
import { describeMachine } from './lib/report.js';
import { median, rotate } from './lib/stats.js';
import { formatNumber, renderMarkdown, renderText, resultsGrid, type RatioColumn, type ResultRow, type ValueColumn } from './lib/table.js';

const ANCHORS_DIR = process.env.WHARF_ANCHORS ?? '/work/shared/anchors';
const FILE_BYTES = 100 * 1024 * 1024;
const SESSIONS = 300;

interface Contender {
  key: 'wharf' | 'pyftpdlib' | 'vsftpd';
  title: string;
  user: string;
  password: string;
  /** Where the server's user sees `/`. */
  home: string;
  server: ServerProcess;
  port: number;
}

type CaseId = 'retr' | 'stor' | 'logins' | 'retrIdle' | 'rss';

interface CaseInfo {
  id: CaseId;
  label: string;
  unit: string;
  /** true: more is better (MB/s); false: less is better (seconds, MiB). */
  higherIsBetter: boolean;
  target?: number;
}

const CASES: CaseInfo[] = [
  { id: 'retr', label: 'RETR 100 MiB (curl)', unit: 'MB/s', higherIsBetter: true, target: 0.9 },
  { id: 'stor', label: 'STOR 100 MiB (curl)', unit: 'MB/s', higherIsBetter: true, target: 1.0 },
  { id: 'logins', label: `${SESSIONS} concurrent logins`, unit: 's', higherIsBetter: false, target: 1.0 },
  { id: 'retrIdle', label: `RETR 100 MiB, ${SESSIONS} idle sessions`, unit: 'MB/s', higherIsBetter: true, target: 0.9 },
  { id: 'rss', label: `resident memory, ${SESSIONS} sessions`, unit: 'MiB', higherIsBetter: false, target: 1.0 },
];

interface Cell {
  round: number;
  contender: Contender['key'];
  caseId: CaseId;
  value: number;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A control port with the 100 ports after it free (the anchors take PORT+1..PORT+100 for passive mode). */
async function freePortBlock(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = base; p <= base + 100 && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no block of 101 free ports');
}

function writeRandomFile(path: string, size: number): void {
  const fd = openSync(path, 'w');
  try {
    const block = randomBytes(1024 * 1024);
    for (let written = 0; written < size; written += block.length) {
      block.writeUInt32BE(written / block.length, 0);
      writeSync(fd, block, 0, Math.min(block.length, size - written));
    }
  } finally {
    closeSync(fd);
  }
}

/** curl's own timing: bytes / (total − pretransfer), i.e. the data connection and the final reply. */
async function curlRate(args: string[]): Promise<number> {
  const result = await runCommand('curl', ['-sS', '--max-time', '120', '-w', '%{size_download} %{size_upload} %{time_pretransfer} %{time_total}', ...args], { timeoutMs: 130_000 });
  if (result.code !== 0) throw new Error(`curl ${args.join(' ')}: exit ${result.code}: ${result.stderr.trim()}`);
  const [down, up, pre, total] = result.stdout.trim().split(/\s+/).map(Number) as [number, number, number, number];
  const bytes = Math.max(down, up);
  if (bytes !== FILE_BYTES) throw new Error(`curl moved ${bytes} bytes, not ${FILE_BYTES}`);
  return bytes / 1e6 / Math.max(1e-6, total - pre);
}

/** A logged-in control connection (kept open: an idle session). */
class Session {
  readonly socket: net.Socket;
  readonly #parser = new ReplyParser();
  readonly #waiting: Array<(code: number) => void> = [];
  readonly #ready: number[] = [];

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setNoDelay(true);
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      for (const reply of this.#parser.push(chunk.toString('latin1'))) {
        const waiter = this.#waiting.shift();
        if (waiter) waiter(reply.code);
        else this.#ready.push(reply.code);
      }
    });
    this.socket.on('close', () => {
      for (const waiter of this.#waiting.splice(0)) waiter(0);
    });
  }

  next(): Promise<number> {
    const ready = this.#ready.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.socket.destroyed) return Promise.resolve(0);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async command(line: string): Promise<number> {
    this.socket.write(`${line}\r\n`);
    return this.next();
  }

  /** Resolves with the greeting's code, or 0 if none came within `ms`. */
  greeting(ms: number): Promise<number> {
    return Promise.race([this.next(), sleep(ms).then(() => 0)]);
  }

  async login(user: string, password: string): Promise<void> {
    const user331 = await this.command(`USER ${user}`);
    if (user331 !== 331) throw new Error(`USER: ${user331}`);
    const pass = await this.command(`PASS ${password}`);
    if (pass !== 230) throw new Error(`PASS: ${pass}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A connected session that has read its 220; a connection left without a greeting (a full accept queue) is retried. */
async function greeted(port: number): Promise<Session> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const session = new Session(port);
    const code = await session.greeting(5_000);
    if (code === 220) return session;
    session.close();
    if (code !== 0) throw new Error(`greeting ${code}`);
  }
  throw new Error('no greeting after 5 attempts');
}

/**
 * SESSIONS connections are opened and greeted first (pyftpdlib's listen backlog is 100: a burst
 * of 300 connects loses some to its full accept queue, which says nothing about logins); then all
 * send USER and PASS at once, and the clock runs until the last 230.
 */
async function concurrentLogins(contender: Contender): Promise<{ seconds: number; sessions: Session[] }> {
  const sessions: Session[] = [];
  for (let i = 0; i < SESSIONS; i += 50) sessions.push(...(await Promise.all(Array.from({ length: Math.min(50, SESSIONS - i) }, () => greeted(contender.port)))));
  const started = performance.now();
  const results = await Promise.allSettled(sessions.map((s) => Promise.race([s.login(contender.user, contender.password), sleep(120_000).then(() => Promise.reject(new Error('no 230 within 120 s')))])));
  const seconds = (performance.now() - started) / 1000;
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length > 0) {
    for (const s of sessions) s.close();
    throw new Error(`${failed.length} of ${SESSIONS} logins failed (first: ${(failed[0] as PromiseRejectedResult).reason})`);
  }
  return { seconds, sessions };
}

function rssMiB(pid: number): number {
  let kib = 0;
  for (const p of processTree(pid)) {
    try {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (match) kib += Number(match[1]);
    } catch {
      // gone
    }
  }
  return kib / 1024;
}

async function startContenders(wharfCli: string | undefined, work: string, source: string, notes: string[]): Promise<Contender[]> {
  const contenders: Contender[] = [];
  const startSh = join(ANCHORS_DIR, 'start.sh');
  const place = (home: string) => {
    mkdirSync(home, { recursive: true });
    execFileSync('cp', ['--reflink=auto', source, join(home, 'big.bin')]);
  };
  if (wharfCli) {
    const data = join(work, 'wharf-data');
    rmSync(data, { recursive: true, force: true });
    execFileSync(process.execPath, [wharfCli, 'user', 'add', 'u', '--data', data, '--password-stdin'], { input: 'p\n', stdio: ['pipe', 'ignore', 'inherit'] });
    const home = join(data, 'files', 'users', 'u');
    place(home);
    const port = await freePortBlock();
    const spec: ServerSpec = {
      name: 'wharf ftp',
      command: process.execPath,
      args: [wharfCli, 'ftp', 'serve', '--port', String(port), '--passive-ports', `${port + 1}-${port + 100}`, '--data', data, '--log-level', 'warn', '--set', 'ftp.maxConnectionsPerIp=0'],
      ready: { tcp: port },
    };
    try {
      contenders.push({ key: 'wharf', title: 'wharf', user: 'u', password: 'p', home, server: await startServer(spec), port });
    } catch (error) {
      notes.push(`wharf not measured: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  for (const anchor of ['pyftpdlib', 'vsftpd'] as const) {
    if (!existsSync(startSh)) {
      notes.push(`${anchor} not measured: ${startSh} is missing`);
      continue;
    }
    if (anchor === 'vsftpd' && process.getuid?.() !== 0) {
      notes.push('vsftpd not measured: start.sh needs root to create its user');
      continue;
    }
    const home = join(work, anchor);
    rmSync(home, { recursive: true, force: true });
    place(home);
    const port = await freePortBlock();
    try {
      const server = await startServer({ name: anchor, command: 'bash', args: [startSh, anchor, String(port), home], ready: { tcp: port } });
      contenders.push({ key: anchor, title: anchor, user: anchor === 'vsftpd' ? 'ftpbench' : 'u', password: 'p', home, server, port });
    } catch (error) {
      notes.push(`${anchor} not measured: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return contenders;
}

export const benchmark: Benchmark = { name: 'ftp', rounds: { quick: 1, full: 3 }, measureBusy: true, measure };

async function measure(run: BenchmarkRun): Promise<void> {
  const { rounds, busyBefore } = run;
  const work = join(tmpDir, 'ftp');
  mkdirSync(work, { recursive: true });
  const source = join(work, 'source-100m.bin');
  if (!existsSync(source) || statSync(source).size !== FILE_BYTES) writeRandomFile(source, FILE_BYTES);


  const contenders = await startContenders(run.wharfCli, work, source, run.notes);
  const cells: Cell[] = [];
  const errors: string[] = [];
  const baselineRss = new Map<string, number>();
  for (const c of contenders) baselineRss.set(c.key, rssMiB(c.server.pid));

  const record = (round: number, contender: Contender, caseId: CaseId, value: number) => {
    cells.push({ round, contender: contender.key, caseId, value });
    const info = CASES.find((c) => c.id === caseId)!;
    process.stdout.write(`round ${round + 1}  ${info.label.padEnd(34)} ${contender.title.padEnd(10)} ${formatNumber(value).padStart(8)} ${info.unit}\n`);
  };
  const attempt = async (round: number, contender: Contender, caseId: CaseId, work: () => Promise<number>) => {
    try {
      record(round, contender, caseId, await work());
    } catch (error) {
      const message = `${caseId} ${contender.title} round ${round + 1}: ${(error as Error).message.split('\n')[0]}`;
      errors.push(message);
      process.stdout.write(`ERROR ${message}\n`);
    }
  };

  try {
    // Warm-up (not counted): one download each, so that JITs and page caches are as in use.
    for (const c of contenders) await curlRate([`ftp://${c.user}:${c.password}@127.0.0.1:${c.port}/big.bin`, '-o', '/dev/null']).catch(() => 0);
    for (let round = 0; round < rounds; round++) {
      for (const c of rotate(contenders, round)) {
        const base = `ftp://${c.user}:${c.password}@127.0.0.1:${c.port}`;
        await attempt(round, c, 'retr', () => curlRate([`${base}/big.bin`, '-o', '/dev/null']));
        await attempt(round, c, 'stor', () => curlRate(['-T', source, `${base}/upload.bin`]));
        let open: Session[] = [];
        await attempt(round, c, 'logins', async () => {
          const { seconds, sessions } = await concurrentLogins(c);
          open = sessions;
          return seconds;
        });
        if (open.length === SESSIONS) {
          await sleep(500);
          await attempt(round, c, 'rss', async () => rssMiB(c.server.pid));
          await attempt(round, c, 'retrIdle', () => curlRate([`${base}/big.bin`, '-o', '/dev/null']));
          const alive = (await Promise.all(open.map((s) => Promise.race([s.command('NOOP'), sleep(10_000).then(() => 0)])))).filter((code) => code === 200).length;
          if (alive !== SESSIONS) errors.push(`${c.title} round ${round + 1}: only ${alive} of ${SESSIONS} idle sessions answered NOOP afterwards`);
        }
        for (const s of open) s.close();
        await sleep(1_000);
      }
    }
  } finally {
    await Promise.all(contenders.map((c) => c.server.stop()));
  }

  // ---- aggregate ----
  const keys = contenders.map((c) => c.key);
  const columns: ValueColumn[] = contenders.map((c) => ({ key: c.key, title: c.title }));
  const ratioColumns: RatioColumn[] = [
    { title: 'wharf vs pyftpdlib', numerator: 'wharf', denominator: 'pyftpdlib' },
    { title: 'wharf vs vsftpd', numerator: 'wharf', denominator: 'vsftpd' },
  ];
  const valuesOf = (caseId: CaseId, key: string) => cells.filter((c) => c.caseId === caseId && c.contender === key).map((c) => c.value);
  /** wharf's advantage, per round, then the median: > 1 means wharf did better, whatever the unit. */
  const advantage = (info: CaseInfo, other: string): number | undefined => {
    const perRound: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const pick = (key: string) => cells.find((c) => c.caseId === info.id && c.contender === key && c.round === round)?.value;
      const w = pick('wharf');
      const o = pick(other);
      if (w !== undefined && o !== undefined && w > 0 && o > 0) perRound.push(info.higherIsBetter ? w / o : o / w);
    }
    return perRound.length > 0 ? median(perRound) : undefined;
  };
  const rows: ResultRow[] = CASES.map((info) => ({
    label: info.label,
    unit: info.unit,
    values: Object.fromEntries(keys.map((key) => [key, valuesOf(info.id, key).length ? median(valuesOf(info.id, key)) : undefined])),
    ratios: { 'wharf vs pyftpdlib': advantage(info, 'pyftpdlib'), 'wharf vs vsftpd': advantage(info, 'vsftpd') },
  }));
  const grid = resultsGrid({ rowHeader: 'FTP', columns, ratios: ratioColumns, rows });
  const verdicts: string[] = [];
  for (const info of CASES) {
    const value = advantage(info, 'pyftpdlib');
    if (info.target !== undefined && value !== undefined) verdicts.push(`${info.label}: ${value.toFixed(2)}× pyftpdlib (target ≥ ${info.target}) ${value >= info.target ? 'met' : 'MISSED'}`);
  }
  const baseline = contenders.map((c) => `${c.title} ${formatNumber(baselineRss.get(c.key))} MiB`).join(', ');
  const { machine, command, measuredLine } = run.facts();
  const method =
    `Other processes kept the machine ${busyBefore.toFixed(0)}% busy (of ${machine.nproc * 100}%) just before the run. ` +
    `${rounds} round${rounds > 1 ? 's' : ''}, servers interleaved; each figure is the median over the rounds. ` +
    'Ratios are wharf\'s advantage (the median of per-round ratios, inverted for seconds and MiB): above 1 wharf did better.';

  const out = ['', `ftp benchmark — ${describeMachine(machine)} — ${method}`, '', renderText(grid), '', ...verdicts.map((v) => `  ${v}`), '', `Resident memory with no session: ${baseline}.`];
  const doc = [
    '## ftp',
    '',
    `${measuredLine} ${method}`,
    '',
    'RETR and STOR move a 100 MiB file with curl; the rate is curl\'s bytes over the time from "transfer starts" to the end (the ' +
      'login, PASV and RETR/STOR exchange are left out; for STOR the time runs until the server\'s 226, after its write and rename). ' +
      `"${SESSIONS} concurrent logins" first opens ${SESSIONS} control connections and reads their greetings, then sends USER and PASS on ` +
      `all of them at once and counts until the last 230 (a burst of connects would measure listen backlogs instead: pyftpdlib's is 100). Those ` +
      `${SESSIONS} sessions then stay logged in and idle while a RETR runs and while the servers' resident memory is read (all ` +
      'their processes: vsftpd runs two per session, and shared pages count once per process).',
    '',
    renderMarkdown(grid),
    '',
    ...verdicts.map((v) => `- ${v}`),
    '',
    `Resident memory with no session: ${baseline}.`,
    '',
    'Settings: every server with its defaults, except wharf\'s per-address connection limit (64 by default) lifted to match the ' +
      'anchors, which have none. wharf checks passwords with scrypt (N=16384, about 16 MiB and tens of ms per login, on the ' +
      'libuv thread pool); pyftpdlib\'s DummyAuthorizer compares plain text; vsftpd uses PAM (crypt) in a process per session.',
    '',
    'Why STOR trails: Node reads an accepted socket 64 KiB at a time into new buffers, about 500 MB/s here against 2,400 for ' +
      'Python\'s recv loop, before anything is written (docs/ftp.md, "Upload speed", and bench/experiments/tcp-receive.mts). ' +
      'Why memory trails: a Node process starts near 40 MiB before any code of wharf\'s, and the 300 scrypt checks leave their ' +
      '16 MiB blocks in glibc\'s per-thread arenas (docs/ftp.md, "Performance and memory"). vsftpd errors, where listed, come ' +
      'from its 300-session rows: it forks two processes per session and starts refusing (421), and a round that follows can time out.',
  ];
  run.finish({
    terminal: out,
    doc,
    remarks: { errors },
    results: { machine, command, rounds, cells, errors, notes: run.notes },
  });
}
