/**
 * Results tables: one row per measured case, one column per server, and ratio columns
 * (e.g. wharf/node). Rendered aligned for the terminal and as Markdown for docs/benchmarks.md.
 */

export interface ValueColumn {
  key: string;
  title: string;
}

export interface RatioColumn {
  title: string;
  numerator: string;
  denominator: string;
  /** A ratio below this is flagged (the target the benchmark checks). */
  target?: number;
}

export interface ResultRow {
  label: string;
  unit: string;
  values: Record<string, number | undefined>;
  /**
   * Ratios measured directly, by ratio title (e.g. the median of per-round ratios, each pair
   * measured seconds apart); when absent a ratio is computed from `values`.
   */
  ratios?: Record<string, number | undefined>;
}

export interface ResultsTable {
  rowHeader: string;
  columns: ValueColumn[];
  ratios?: RatioColumn[];
  rows: ResultRow[];
}

/** A plain grid of strings; `align` per column ('l' or 'r'). */
export interface Grid {
  headers: string[];
  rows: string[][];
  align: Array<'l' | 'r'>;
}

/** 143210 → "143,210"; 2051.3 → "2,051"; 98.76 → "98.8"; 1.234 → "1.23". */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function ratioValue(row: ResultRow, ratio: RatioColumn): number | undefined {
  if (row.ratios && ratio.title in row.ratios) return row.ratios[ratio.title];
  const a = row.values[ratio.numerator];
  const b = row.values[ratio.denominator];
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return undefined;
  return a / b;
}

export function formatRatio(value: number | undefined, target?: number): string {
  if (value === undefined) return '–';
  const text = `${value.toFixed(2)}×`;
  return target !== undefined && value < target ? `${text} !` : text;
}

export function resultsGrid(table: ResultsTable): Grid {
  const ratios = table.ratios ?? [];
  return {
    headers: [table.rowHeader, 'unit', ...table.columns.map((c) => c.title), ...ratios.map((r) => r.title)],
    align: ['l', 'l', ...table.columns.map(() => 'r' as const), ...ratios.map(() => 'r' as const)],
    rows: table.rows.map((row) => [
      row.label,
      row.unit,
      ...table.columns.map((c) => formatNumber(row.values[c.key])),
      ...ratios.map((r) => formatRatio(ratioValue(row, r), r.target)),
    ]),
  };
}

/** Monospace table for a terminal. */
export function renderText(grid: Grid): string {
  const widths = grid.headers.map((h, i) => Math.max(h.length, ...grid.rows.map((r) => (r[i] ?? '').length)));
  const pad = (cell: string, i: number) => (grid.align[i] === 'r' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!));
  const line = (cells: string[]) => cells.map(pad).join('  ').trimEnd();
  return [line(grid.headers), widths.map((w) => '─'.repeat(w)).join('  '), ...grid.rows.map(line)].join('\n');
}

/** GitHub-flavoured Markdown table. */
export function renderMarkdown(grid: Grid): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const line = (cells: string[]) => `| ${cells.map(escape).join(' | ')} |`;
  const rule = `|${grid.align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`;
  return [line(grid.headers), rule, ...grid.rows.map(line)].join('\n');
}

/** A table with a column per contender: `cell` fills the cell of each row and contender (`–` when it has nothing). */
export function contenderGrid<R extends { label: string }, C extends { title: string }>(heading: string, rows: readonly R[], contenders: readonly C[], cell: (row: R, contender: C) => string): Grid {
  return {
    headers: [heading, ...contenders.map((c) => c.title)],
    align: ['l', ...contenders.map(() => 'r' as const)],
    rows: rows.map((row) => [row.label, ...contenders.map((c) => cell(row, c))]),
  };
}
