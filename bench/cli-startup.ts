/**
 * `npm run bench -- cli-startup`: how long a `wharf` client command takes from start to exit,
 * against `node -e ''` (the floor: starting Node itself). Every round runs each command once, in
 * a rotating order; each figure is the median over the rounds.
 *
 * `WHARF_BENCH_BASELINE=path/to/dist/cli/main.js` adds the same commands run by another build
 * (an older commit's), for a before/after table in one run.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Benchmark, BenchmarkRun } from './lib/run-benchmark.js';
import { tmpDir } from './lib/paths.js';
import { freePort, startServer } from './lib/processes.js';
import { describeMachine } from './lib/report.js';
import { median, rotate } from './lib/stats.js';

/** The issue's target for a client command (`wharf echo send`). */
const TARGET_MS = 250;

interface Contender {
  name: string;
  args: string[];
}

function timeOnce(args: string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${result.status}: ${result.stderr.toString()}`);
  return ms;
}

export const benchmark: Benchmark = { name: 'cli-startup', rounds: { quick: 5, full: 15 }, wharfRequired: true, measure };

async function measure(run: BenchmarkRun): Promise<void> {
  const wharfCli = run.wharfCli!;
  const data = join(tmpDir, 'cli-startup-data');
  const env = { ...process.env, WHARF_DATA: data };
  const port = await freePort();
  const server = await startServer({
    name: 'wharf echo serve',
    command: process.execPath,
    args: [wharfCli, 'echo', 'serve', '--port', String(port), '--no-udp', '--log-level', 'warn'],
    env,
    ready: { tcp: port },
  });

  const clis: Array<[string, string]> = [['wharf', wharfCli]];
  const baseline = process.env.WHARF_BENCH_BASELINE;
  if (baseline) clis.push(['baseline', baseline]);
  const contenders: Contender[] = [
    { name: "node -e ''", args: ['-e', ''] },
    ...clis.flatMap(([label, cli]) => [
      { name: `${label} echo send hello`, args: [cli, 'echo', 'send', '--port', String(port), 'hello'] },
      { name: `${label} --help`, args: [cli, '--help'] },
    ]),
  ];
  const rounds = run.rounds;
  const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  try {
    // One unmeasured pass: the files are in the page cache for every contender alike.
    for (const contender of contenders) timeOnce(contender.args, env);
    for (let round = 0; round < rounds; round++) {
      for (const contender of rotate(contenders, round)) times.get(contender.name)!.push(timeOnce(contender.args, env));
    }
  } finally {
    await server.stop(2_000);
  }

  const floor = median(times.get("node -e ''")!);
  const rows = contenders.map((c) => {
    const all = times.get(c.name)!;
    return { command: c.name, medianMs: median(all), minMs: Math.min(...all), maxMs: Math.max(...all), overNode: median(all) / floor };
  });
  const table = [
    '| command | median ms | min ms | max ms | × `node -e \'\'` |',
    '|:---|---:|---:|---:|---:|',
    ...rows.map((r) => `| \`${r.command}\` | ${r.medianMs.toFixed(0)} | ${r.minMs.toFixed(0)} | ${r.maxMs.toFixed(0)} | ${r.overNode.toFixed(2)}× |`),
  ];
  const echoSend = rows.find((r) => r.command === 'wharf echo send hello')!;
  const verdict = `Target (a client command under ${TARGET_MS} ms): ${echoSend.medianMs < TARGET_MS ? 'met' : 'not met'}, \`wharf echo send\` takes ${echoSend.medianMs.toFixed(0)} ms.`;
  const { machine, command, minutes } = run.facts();
  const method = `${rounds} rounds, commands interleaved, each run to its exit by \`spawnSync\` from the bench process, against a \`wharf echo serve\` on a loopback port; the median of the rounds.`;
  run.finish({
    terminal: ['', `cli-startup — ${describeMachine(machine)} — ${method}`, '', ...table, '', verdict],
    doc: [
      '## Client start-up',
      '',
      `Measured ${machine.date} on ${describeMachine(machine)}, with \`${command}\`${baseline ? ` and WHARF_BENCH_BASELINE=${baseline}` : ''} (${minutes} min). ${method}`,
      '',
      ...table,
      '',
      verdict,
    ],
    results: { rounds, times: Object.fromEntries(times) },
  });
}
