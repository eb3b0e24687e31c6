import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root (bench/lib/../..), whatever the current directory. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const benchDir = join(repoRoot, 'bench');
/** Build products and scratch files of the benchmarks (git-ignored). */
export const tmpDir = join(benchDir, '.tmp');
