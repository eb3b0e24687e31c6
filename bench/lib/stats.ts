/** Median of the finite values; NaN for none. */
export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** (max - min) / median: how far apart the rounds were. */
export function spread(values: number[]): number {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return 0;
  return (Math.max(...finite) - Math.min(...finite)) / median(finite);
}

/** `list` rotated left by `by` (interleaving: each round starts with a different server). */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const n = list.length;
  if (n === 0) return [];
  const k = ((by % n) + n) % n;
  return [...list.slice(k), ...list.slice(0, k)];
}

/**
 * The ratio of two contenders as the median of their per-round ratios. Both figures of a round
 * were measured seconds apart, under the same load, so slow swings in the machine's load cancel
 * out; a ratio of the two medians can pair a quiet round of one with a loaded round of the other.
 * `valueIn(contender, round)` is the figure measured, or undefined when that cell failed.
 */
export function pairedRatio(
  numerator: string,
  denominator: string,
  rounds: number,
  valueIn: (contender: string, round: number) => number | undefined,
): number | undefined {
  const perRound: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const a = valueIn(numerator, round);
    const b = valueIn(denominator, round);
    if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0) perRound.push(a / b);
  }
  return perRound.length > 0 ? median(perRound) : undefined;
}

/** `pairedRatio` for every ratio column of a table row, keyed by the column's title. */
export function pairedRatios(
  columns: ReadonlyArray<{ title: string; numerator: string; denominator: string }>,
  rounds: number,
  valueIn: (contender: string, round: number) => number | undefined,
): Record<string, number | undefined> {
  return Object.fromEntries(columns.map((column) => [column.title, pairedRatio(column.numerator, column.denominator, rounds, valueIn)]));
}
