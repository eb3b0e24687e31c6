/**
 * What every benchmark does before and after it measures, written once: settings from the command
 * line, the scratch folder, the wharf build, how busy the machine was, the servers of the
 * contenders, and at the end the report (terminal, results file, docs/benchmarks.md).
 * A benchmark (bench/NAME.ts) exports a `Benchmark`; bench/run.ts runs it with `runBenchmark`.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { machineBusyPercent } from './machine-load.js';
import type { BenchOptions } from './options.js';
import { tmpDir } from './paths.js';
import { freePort, startServer, type ServerProcess, type ServerSpec } from './processes.js';
import { benchCommand, describeMachine, finishReport, machineInfo, type MachineInfo, type Report } from './report.js';
import { ensureWharfBuilt, type WharfBuild } from './wharf.js';

/** A figure for a quick look (`--quick`) and one for the record. */
export interface QuickOrFull {
  quick: number;
  full: number;
}

export interface Benchmark {
  /** Its section of docs/benchmarks.md and its results file. */
  name: string;
  /** Rounds unless `--rounds` says. */
  rounds: QuickOrFull;
  /** Seconds counted per cell unless `--duration` says (for benchmarks that count for a time). */
  durationSeconds?: QuickOrFull;
  /** Nothing to measure without wharf: a failed build ends the run instead of being noted. */
  wharfRequired?: boolean;
  /** Measure how busy other processes keep the machine just before the run, and print it. */
  measureBusy?: boolean;
  measure(run: BenchmarkRun): Promise<void>;
}

/** A contender's running server and its port. */
export interface RunningServer {
  server: ServerProcess;
  port: number;
}

/** The measured run's facts for its report's opening sentence. */
export interface RunFacts {
  machine: MachineInfo;
  /** The command as a user types it. */
  command: string;
  /** How long the run took, formatted (`1.2`). */
  minutes: string;
  /** `Measured <date> on <machine>, with \`<command>\` (<minutes> min).` */
  measuredLine: string;
}

export class BenchmarkRun {
  readonly startedAt = Date.now();
  /** Load average (1 min) just before the run. */
  readonly loadBefore = loadavg()[0]!;
  /** Lines for the report's notes (also printed as they come). */
  readonly notes: string[] = [];
  /** Contenders not measured, with the reason (`startServers` fills it). */
  readonly missing = new Map<string, string>();
  /** How busy other processes kept the machine before the run, in % of one core (with `measureBusy`). */
  busyBefore = 0;

  constructor(
    readonly benchmark: Benchmark,
    readonly options: BenchOptions,
    readonly build: WharfBuild,
  ) {}

  get quick(): boolean {
    return this.options.quick;
  }

  get rounds(): number {
    return this.options.rounds ?? pick(this.benchmark.rounds, this.quick);
  }

  get durationSeconds(): number {
    const defaults = this.benchmark.durationSeconds;
    if (this.options.durationSeconds !== undefined) return this.options.durationSeconds;
    if (defaults === undefined) throw new Error(`bench ${this.benchmark.name} has no duration`);
    return pick(defaults, this.quick);
  }

  /** The built CLI, or undefined when the build failed (the benchmark then measures the anchors only). */
  get wharfCli(): string | undefined {
    return this.build.ok ? this.build.cli : undefined;
  }

  /** A note for the report, printed now. */
  note(text: string): void {
    this.notes.push(text);
    process.stderr.write(`bench: ${text}\n`);
  }

  /**
   * Start one server per contender, each on a free port, all at once. A spec may be a reason
   * instead (the contender cannot run here) or undefined (not in this run); a contender that
   * cannot start is left out and its reason kept in `missing`.
   */
  async startServers<C extends { key: string; title: string }>(contenders: readonly C[], spec: (contender: C, port: number) => ServerSpec | string | undefined): Promise<Map<string, RunningServer>> {
    const servers = new Map<string, RunningServer>();
    const starting: Array<Promise<void>> = [];
    for (const contender of contenders) {
      const port = await freePort();
      const how = spec(contender, port);
      if (how === undefined) continue;
      if (typeof how === 'string') {
        this.missing.set(contender.key, how);
        process.stderr.write(`bench: ${contender.title} not measured: ${how}\n`);
        continue;
      }
      starting.push(
        startServer(how).then(
          (server) => void servers.set(contender.key, { server, port }),
          (error: unknown) => {
            const reason = error instanceof Error ? error.message : String(error);
            this.missing.set(contender.key, reason);
            process.stderr.write(`bench: could not start ${how.name}: ${reason}\n`);
          },
        ),
      );
    }
    await Promise.all(starting);
    return servers;
  }

  /** The facts of the run so far, for the report. */
  facts(): RunFacts {
    const machine = machineInfo();
    const command = benchCommand(this.options.args);
    const minutes = ((Date.now() - this.startedAt) / 60_000).toFixed(1);
    return { machine, command, minutes, measuredLine: `Measured ${machine.date} on ${describeMachine(machine)}, with \`${command}\` (${minutes} min).` };
  }

  /** Print the report, keep the raw results, and write the docs section (unless `--no-write`). */
  finish(report: Pick<Report, 'terminal' | 'doc' | 'results'> & Partial<Pick<Report, 'remarks'>>): void {
    const { remarks = {}, ...rest } = report;
    finishReport({ name: this.benchmark.name, ...rest, remarks: { ...remarks, notes: [...(remarks.notes ?? []), ...this.notes] }, minutes: this.facts().minutes, resultsDir: tmpDir, write: this.options.write });
  }
}

function pick(figures: QuickOrFull, quick: boolean): number {
  return quick ? figures.quick : figures.full;
}

/** The prologue, the benchmark's own measurements, and (through `run.finish`) the epilogue. */
export async function runBenchmark(benchmark: Benchmark, options: BenchOptions): Promise<void> {
  mkdirSync(tmpDir, { recursive: true });
  const build = await ensureWharfBuilt(options.build);
  if (!build.ok && benchmark.wharfRequired) throw new Error(build.reason);
  const run = new BenchmarkRun(benchmark, options, build);
  if (!build.ok) run.note(`wharf was not measured: ${build.reason.split('\n')[0]}`);
  else if (build.warning) run.note(build.warning);
  if (benchmark.measureBusy) {
    run.busyBefore = await machineBusyPercent();
    process.stdout.write(`machine busy before the run (other processes): ${run.busyBefore.toFixed(0)}% of one core\n`);
  }
  await benchmark.measure(run);
}
