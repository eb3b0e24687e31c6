/**
 * The investigation behind the "pipelined small messages" notes in docs/benchmarks.md: echo
 * server variants side by side, with the server's system calls counted by `perf stat` on
 * tracepoints (cheap, unlike strace, which slows the server enough to change its batching).
 *
 * usage: node --import tsx bench/experiments/pipelined.ts [--variants a,b] [--cases 64x16,1x16]
 *          [--rounds 5] [--duration 2] [--no-perf] [--concurrent]
 * --concurrent loads all variants at the same time (one generator each) and reports throughput as
 * a median of per-round ratios to the first variant: background load then hits every variant alike.
 * Variants: see VARIANTS below (NAME#2: a second process of the same variant). The copies of
 * src/core with experimental switches (wharf-copy, wharf-sweep, wharfu-no-cb, ...) were removed once
 * their findings were taken into src/core or rejected (docs/benchmarks.md); they are in git history
 * at commit 35bda47, under bench/experiments/core/. Cases: CxK (C connections × K in flight, 64 B, one write
 * per batch), CxKs (the same, one write per message), stream, udpNxK (N sockets × K datagrams).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { runEchoLoad, type EchoLoad, type EchoLoadResult } from '../lib/echo-load.js';
import { benchDir, tmpDir } from '../lib/paths.js';
import { freePort, killAll, run, startServer, type ServerProcess, type ServerSpec } from '../lib/processes.js';
import { median, rotate } from '../lib/stats.js';
import { renderText, type Grid } from '../lib/table.js';
import { wharfCli } from '../lib/wharf.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const node = (args: string[]) => ({ command: process.execPath, args });

type Launch = { command: string; args: string[]; env?: NodeJS.ProcessEnv; udp?: boolean };
const VARIANTS: Record<string, (port: number) => Launch> = {
  'node-udp': (p) => ({ ...node([join(benchDir, 'anchors', 'node-udp-echo.mjs'), String(p)]), udp: true }),
  'python-udp': (p) => ({ command: PYTHON, args: [join(benchDir, 'anchors', 'py-udp-echo.py'), String(p)], udp: true }),
  'wharf-udp': (p) => ({ ...node([wharfCli, 'echo', 'serve', '--port', String(p), '--no-tcp', '--log-level', 'warn', '--data', join(tmpDir, 'wharf-data')]), udp: true }),
  node: (p) => node([join(benchDir, 'anchors', 'node-echo.mjs'), String(p)]),
  'node-nodelay': (p) => node([join(benchDir, 'experiments', 'variants.mjs'), 'nodelay', String(p)]),
  'node-cork': (p) => node([join(benchDir, 'experiments', 'variants.mjs'), 'cork', String(p)]),
  'node-immediate': (p) => node([join(benchDir, 'experiments', 'variants.mjs'), 'immediate', String(p)]),
  python: (p) => ({ command: 'bash', args: [join(process.env.WHARF_ANCHORS ?? '/work/shared/anchors', 'start.sh'), 'pyecho', String(p)] }),
  // Python with glibc's mmap threshold above asyncio's 256 KiB read buffer: no mmap/munmap per read.
  'python-heap': (p) => ({
    command: PYTHON,
    args: [join(benchDir, 'anchors', 'pyecho.py'), String(p)],
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: String(1 << 20) },
  }),
  wharf: (p) => node([wharfCli, 'echo', 'serve', '--port', String(p), '--no-udp', '--log-level', 'warn', '--data', join(tmpDir, 'wharf-data')]),
};

function parseCase(id: string): EchoLoad {
  if (id === 'stream') return { mode: 'stream', conns: 1, inflight: 4, size: 1 << 20 };
  const udp = /^udp(\d+)x(\d+)$/.exec(id);
  if (udp) return { mode: 'udp', conns: Number(udp[1]), inflight: Number(udp[2]), size: 64 };
  const match = /^(\d+)x(\d+)(s?)$/.exec(id);
  if (!match) throw new Error(`bad case ${id}`);
  return { mode: 'tcp', conns: Number(match[1]), inflight: Number(match[2]), size: 64, split: match[3] === 's' };
}

const SYSCALLS = ['read', 'write', 'writev', 'recvfrom', 'sendto', 'epoll_wait', 'epoll_pwait', 'epoll_ctl', 'mmap', 'munmap', 'mremap', 'brk', 'madvise', 'futex'];

async function countSyscalls(pids: number[], seconds: number): Promise<Record<string, number>> {
  const events = [...SYSCALLS.map((s) => `syscalls:sys_enter_${s}`), 'raw_syscalls:sys_enter', 'page-faults', 'context-switches'];
  const result = await run('perf', ['stat', '-x', ',', '-e', events.join(','), '-p', pids.join(','), '--', 'sleep', String(seconds)]);
  const counts: Record<string, number> = {};
  for (const line of result.stderr.split('\n')) {
    const [value, , event] = line.split(',');
    if (!event || value === undefined) continue;
    const name = event.replace('syscalls:sys_enter_', '').replace('raw_syscalls:sys_enter', 'total').replace(/:.*$/, '');
    counts[name] = Number(value) || 0;
  }
  return counts;
}

interface Sample {
  result: EchoLoadResult;
  counts: Record<string, number> | undefined;
  countSeconds: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const variants = arg('--variants', 'node,node-nodelay,python,wharf').split(',');
const cases = arg('--cases', '64x16,1x16').split(',');
const rounds = Number(arg('--rounds', '5'));
const duration = Number(arg('--duration', '2'));
const concurrent = process.argv.includes('--concurrent');
const perf = !process.argv.includes('--no-perf') && !concurrent;
const warmup = 0.5;

const servers = new Map<string, { server: ServerProcess; port: number }>();
try {
  for (const name of variants) {
    // NAME#2: a second process of the same variant (is a difference the code, or the process?)
    const base = name.replace(/#.*$/, '');
    const make = VARIANTS[base];
    if (!make) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
    const port = await freePort();
    const launch = make(port);
    const spec: ServerSpec = { name, command: launch.command, args: launch.args, env: launch.env, ready: launch.udp ? { udpEcho: port } : { tcp: port } };
    servers.set(name, { server: await startServer(spec), port });
  }
  const samples = new Map<string, Sample[]>();
  const ratios = new Map<string, number[]>();
  const measure = async (caseId: string, name: string) => {
    const { server, port } = servers.get(name)!;
    const pids = server.pids();
    const countSeconds = duration - 0.2;
    const counting = perf ? sleep((warmup + 0.1) * 1000).then(() => countSyscalls(pids, countSeconds)) : Promise.resolve(undefined);
    const [result, counts] = await Promise.all([runEchoLoad(port, parseCase(caseId), { warmupSeconds: warmup, durationSeconds: duration, serverPids: pids }), counting]);
    const key = `${caseId}/${name}`;
    samples.set(key, [...(samples.get(key) ?? []), { result, counts, countSeconds }]);
    return result;
  };
  for (let round = 0; round < rounds; round++) {
    for (const [ci, caseId] of cases.entries()) {
      if (concurrent) {
        // All variants loaded at the same time: they share whatever CPU the machine leaves them,
        // so background load hits them alike and the throughput ratio is a fair cost ratio.
        const results = await Promise.all(variants.map((name) => measure(caseId, name)));
        const base = results[0]!.messagesPerSecond;
        process.stderr.write(`round ${round + 1} ${caseId}: ${variants.map((n, i) => `${n} ${(results[i]!.messagesPerSecond / base).toFixed(3)}`).join('  ')}\n`);
        for (const [i, name] of variants.entries()) {
          const key = `${caseId}/${name}`;
          ratios.set(key, [...(ratios.get(key) ?? []), results[i]!.messagesPerSecond / base]);
        }
        continue;
      }
      for (const name of rotate(variants, round + ci)) {
        const result = await measure(caseId, name);
        process.stderr.write(`round ${round + 1} ${caseId} ${name}: ${result.error ?? Math.round(result.messagesPerSecond)}\n`);
      }
    }
  }
  for (const caseId of cases) {
    const grid: Grid = {
      headers: [caseId, concurrent ? `÷ ${variants[0]}` : 'msg/s', 'MB/s', 'srv µs/msg', 'user µs/msg', 'srv %', 'gen %', 'others %', 'syscalls/msg', 'reads/msg', 'writes/msg', 'epoll/msg', 'mm/msg', 'faults/msg', 'cs/msg', 'B/read'],
      align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      rows: [],
    };
    for (const name of variants) {
      const list = (samples.get(`${caseId}/${name}`) ?? []).filter((s) => !s.result.error);
      if (list.length === 0) continue;
      const m = (f: (s: Sample) => number) => median(list.map(f));
      // syscalls per message: counts over countSeconds, messages at the measured rate
      const per = (f: (c: Record<string, number>) => number) =>
        perf ? m((s) => (s.counts ? f(s.counts) / (s.result.messagesPerSecond * s.countSeconds) : Number.NaN)) : Number.NaN;
      const reads = (c: Record<string, number>) => (c.read ?? 0) + (c.recvfrom ?? 0);
      const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '–');
      grid.rows.push([
        name,
        concurrent ? fmt(median(ratios.get(`${caseId}/${name}`) ?? []), 3) : Math.round(m((s) => s.result.messagesPerSecond)).toLocaleString('en-US'),
        fmt(m((s) => s.result.megabytesPerSecond), 1),
        fmt(m((s) => (s.result.serverCpuPercent / 100) * 1e6 / s.result.messagesPerSecond)),
        fmt(m((s) => (s.result.serverUserCpuPercent / 100) * 1e6 / s.result.messagesPerSecond)),
        fmt(m((s) => s.result.serverCpuPercent), 0),
        fmt(m((s) => s.result.clientCpuPercent), 0),
        fmt(m((s) => s.result.otherCpuPercent), 0),
        fmt(per((c) => c.total ?? 0), 3),
        fmt(per(reads), 3),
        fmt(per((c) => (c.write ?? 0) + (c.writev ?? 0) + (c.sendto ?? 0)), 3),
        fmt(per((c) => (c.epoll_wait ?? 0) + (c.epoll_pwait ?? 0) + (c.epoll_ctl ?? 0)), 3),
        fmt(per((c) => (c.mmap ?? 0) + (c.munmap ?? 0) + (c.mremap ?? 0) + (c.brk ?? 0) + (c.madvise ?? 0)), 3),
        fmt(per((c) => c['page-faults'] ?? 0), 3),
        fmt(per((c) => c['context-switches'] ?? 0), 3),
        perf ? fmt(m((s) => (s.counts ? (s.result.megabytesPerSecond * 1e6 * s.countSeconds) / Math.max(1, reads(s.counts)) : Number.NaN)), 0) : '–',
      ]);
    }
    process.stdout.write(`\n${renderText(grid)}\n`);
  }
  process.stdout.write(`\n${rounds} rounds × ${duration} s, medians; syscalls counted by perf stat over the window.\n`);
} finally {
  await Promise.all([...servers.values()].map(({ server }) => server.stop()));
  killAll();
}
