/** What `bench/run.ts` hands every benchmark. */
export interface BenchOptions {
  quick: boolean;
  /** Seconds measured per cell, when given on the command line. */
  durationSeconds: number | undefined;
  rounds: number | undefined;
  /** Write the section of docs/benchmarks.md. */
  write: boolean;
  /** Run `npm run build` even if dist/ exists. */
  build: boolean;
  /** The arguments as given (for the "how to reproduce" line). */
  args: string[];
}
