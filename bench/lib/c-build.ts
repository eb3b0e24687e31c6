import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpDir } from './paths.js';
import { run } from './processes.js';

/**
 * Compile a one-file C program with `cc -O2` into bench/.tmp/, once per version of its source
 * (the binary's name carries a hash of the source and flags). Returns the binary's path.
 */
export async function compileC(sourcePath: string, flags: string[] = []): Promise<string> {
  const source = readFileSync(sourcePath);
  const allFlags = ['-O2', '-Wall', '-Wextra', ...flags];
  const hash = createHash('sha256').update(source).update(allFlags.join(' ')).digest('hex').slice(0, 12);
  const binary = join(tmpDir, `${basename(sourcePath, '.c')}-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(tmpDir, { recursive: true });
  const result = await run('cc', [...allFlags, '-o', binary, sourcePath]);
  if (result.code !== 0) throw new Error(`cc failed for ${sourcePath}:\n${result.stderr}`);
  return binary;
}
