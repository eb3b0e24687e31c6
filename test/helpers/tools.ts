import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Is `tool` on PATH? Interop tests skip with a reason when not (CI installs every tool). */
export function hasTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** In CI a missing interop tool is a broken CI script, not a reason to skip. */
export function skipReason(tool: string): string | undefined {
  if (hasTool(tool)) return undefined;
  if (process.env.CI === 'true') throw new Error(`${tool} is not installed, but CI must install it (.ci/run)`);
  return `${tool} is not installed`;
}

export interface ToolResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run a real client with `input` on stdin, kill it after `timeoutMs`. */
export function runTool(command: string, args: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** A Python 2.7 interpreter (the seeds' own language): WHARF_PYTHON2, python2.7 / python2 on PATH, or pyenv's 2.7. */
export function findPython2(): string | undefined {
  const pyenv = join(homedir(), '.pyenv', 'versions');
  const candidates = [
    process.env.WHARF_PYTHON2,
    'python2.7',
    'python2',
    ...(existsSync(pyenv) ? readdirSync(pyenv).filter((v) => v.startsWith('2.7')).map((v) => join(pyenv, v, 'bin', 'python')) : []),
  ].filter((c): c is string => c !== undefined && c !== '');
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['-c', 'import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)'], { stdio: 'ignore', timeout: 10_000 });
      return candidate;
    } catch {
      // not there, or not 2.7 (a pyenv shim with no 2.7 selected fails too)
    }
  }
  return undefined;
}
