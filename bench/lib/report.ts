import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export const benchmarksDoc = join(repoRoot, 'docs', 'benchmarks.md');

export interface MachineInfo {
  date: string;
  nproc: number;
  cpuModel: string;
  node: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: cpus().length,
    cpuModel,
    node: process.version,
    kernel: release(),
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.nproc} × ${m.cpuModel}, Linux ${m.kernel}, Node ${m.node}`;
}

/** The command line as a user would type it, e.g. `npm run bench -- echo --quick`. */
export function benchCommand(args: readonly string[]): string {
  return ['npm run bench --', ...args].join(' ');
}

const HEADER = `# Benchmarks

Side-by-side measurements of wharf against the anchors (see \`bench/\`). Every section between
\`<!-- bench:NAME:start -->\` and \`<!-- bench:NAME:end -->\` is rewritten by \`npm run bench -- NAME\`;
everything else in this file is kept as written.
`;

/**
 * Replace this benchmark's own section of docs/benchmarks.md (between its markers), keeping every
 * other section and any hand-written text. A new section is appended at the end.
 */
export function writeSection(name: string, body: string, file = benchmarksDoc): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  let next: string;
  if (from !== -1 && to > from) next = current.slice(0, from) + block + current.slice(to + end.length);
  else next = `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** Remarks on a run, listed after its tables; an empty list is left out. */
export interface RunRemarks {
  /** Cells whose rounds were more than 25% apart. */
  noisy?: readonly string[];
  /** Other lists, each under its own heading (e.g. "wrk socket errors"). */
  extra?: ReadonlyArray<{ heading: string; items: readonly string[] }>;
  errors?: readonly string[];
  notes?: readonly string[];
}

function remarkLists(remarks: RunRemarks): Array<{ heading: string; items: readonly string[] }> {
  return [
    { heading: 'Noisy cells (rounds more than 25% apart)', items: remarks.noisy ?? [] },
    ...(remarks.extra ?? []),
    { heading: 'Errors', items: remarks.errors ?? [] },
  ].filter((list) => list.items.length > 0);
}

/** The remarks as terminal lines: a heading, then one indented line per item. */
export function remarksForTerminal(remarks: RunRemarks): string[] {
  const lines: string[] = [];
  for (const { heading, items } of remarkLists(remarks)) lines.push('', `${heading}:`, ...items.map((item) => `  ${item}`));
  if (remarks.notes?.length) lines.push('', ...remarks.notes.map((note) => `Note: ${note}`));
  return lines;
}

/** The remarks as Markdown paragraphs: a heading, then the items in one sentence. */
export function remarksForDoc(remarks: RunRemarks): string[] {
  const lines: string[] = [];
  for (const { heading, items } of remarkLists(remarks)) lines.push('', `${heading}: ${items.join('; ')}.`);
  if (remarks.notes?.length) lines.push('', ...remarks.notes.map((note) => `Note: ${note}`));
  return lines;
}

export interface Report {
  /** The benchmark's name: its section in docs/benchmarks.md and its results file. */
  name: string;
  /** What the terminal shows before the remarks. */
  terminal: readonly string[];
  /** The docs section before the remarks, starting with its `## name` heading. */
  doc: readonly string[];
  remarks: RunRemarks;
  /** How long the run took, already formatted. */
  minutes: string;
  /** Every measurement, kept as `<resultsDir>/<name>-results.json` for a closer look. */
  results: object;
  resultsDir: string;
  /** False with `--no-write`: docs/benchmarks.md is left alone. */
  write: boolean;
}

/** The end of every benchmark: print the report, keep the raw results, write the docs section. */
export function finishReport(report: Report): void {
  process.stdout.write(`${[...report.terminal, ...remarksForTerminal(report.remarks), '', `Took ${report.minutes} min.`].join('\n')}\n`);
  writeFileSync(join(report.resultsDir, `${report.name}-results.json`), JSON.stringify(report.results, null, 2));
  if (!report.write) return;
  writeSection(report.name, [...report.doc, ...remarksForDoc(report.remarks)].join('\n'));
  process.stdout.write(`Wrote the ${report.name} section of docs/benchmarks.md.\n`);
}
