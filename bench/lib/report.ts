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
