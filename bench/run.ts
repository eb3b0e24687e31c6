/**
 * `npm run bench -- NAME [--quick] [--duration S] [--rounds N] [--no-write] [--build]`
 *
 * Runs one side-by-side benchmark (bench/NAME.ts) and writes its section of docs/benchmarks.md.
 *   --quick        fewer rounds, shorter cells (about a minute), for a quick look
 *   --duration S   seconds measured per cell (after a warm-up that is not counted)
 *   --rounds N     rounds; each cell's figure is the median over the rounds
 *   --no-write     print only; leave docs/benchmarks.md alone
 *   --build        run `npm run build` first even if dist/ exists
 */
import type { BenchOptions } from './lib/options.js';
import { killAll } from './lib/processes.js';
import { runBenchmark, type Benchmark } from './lib/run-benchmark.js';

const benchmarks: Record<string, () => Promise<{ benchmark: Benchmark }>> = {
  echo: () => import('./echo.js'),
  web: () => import('./web.js'),
  dict: () => import('./dict.js'),
  tftp: () => import('./tftp.js'),
  diary: () => import('./diary.js'),
  concurrency: () => import('./concurrency.js'),
  ftp: () => import('./ftp.js'),
  chat: () => import('./chat.js'),
  'cli-startup': () => import('./cli-startup.js'),
};

function usage(message?: string): never {
  if (message) process.stderr.write(`bench: ${message}\n`);
  process.stderr.write(
    `usage: npm run bench -- NAME [--quick] [--duration S] [--rounds N] [--no-write] [--build]\n` +
      `benchmarks: ${Object.keys(benchmarks).join(', ')}\n`,
  );
  process.exit(2);
}

function parse(argv: string[]): { name: string; options: BenchOptions } {
  let name: string | undefined;
  const options: BenchOptions = { quick: false, durationSeconds: undefined, rounds: undefined, write: true, build: false, args: argv };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n <= 0) usage(`${arg} needs a positive number`);
      return n;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--duration') options.durationSeconds = value();
    else if (arg === '--rounds') options.rounds = Math.round(value());
    else if (arg === '--no-write') options.write = false;
    else if (arg === '--build') options.build = true;
    else if (arg === '-h' || arg === '--help') usage();
    else if (!arg.startsWith('-') && name === undefined) name = arg;
    else usage(`unknown argument ${arg}`);
  }
  if (name === undefined) usage('which benchmark?');
  if (!(name in benchmarks)) usage(`no benchmark named ${name}`);
  return { name, options };
}

const { name, options } = parse(process.argv.slice(2));
try {
  const { benchmark } = await benchmarks[name]!();
  await runBenchmark(benchmark, options);
} catch (error) {
  process.stderr.write(`bench ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  killAll();
}
