import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { run } from './processes.js';

export const wharfCli = join(repoRoot, 'dist', 'cli', 'main.js');

export type WharfBuild = { ok: true; cli: string; warning?: string } | { ok: false; reason: string };

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The built wharf CLI (dist/cli/main.js). Runs `npm run build` when dist is missing (or `force`);
 * a build that fails is reported, not thrown, so a benchmark can still measure the anchors.
 */
export async function ensureWharfBuilt(force: boolean): Promise<WharfBuild> {
  if (force || !existsSync(wharfCli)) {
    process.stderr.write('bench: npm run build ...\n');
    const result = await run('npm', ['run', 'build', '--silent'], { cwd: repoRoot, timeoutMs: 300_000 });
    if (result.code !== 0 || !existsSync(wharfCli)) {
      const firstErrors = `${result.stdout}\n${result.stderr}`
        .split('\n')
        .filter((line) => /error/i.test(line))
        .slice(0, 5)
        .join('\n');
      return { ok: false, reason: `npm run build failed:\n${firstErrors}` };
    }
  }
  const srcNewest = newestMtime(join(repoRoot, 'src'));
  if (srcNewest > statSync(wharfCli).mtimeMs) {
    return { ok: true, cli: wharfCli, warning: 'dist/ is older than src/: measuring the last build (run with --build to rebuild)' };
  }
  return { ok: true, cli: wharfCli };
}
