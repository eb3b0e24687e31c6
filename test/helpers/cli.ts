import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built command (`npm test` builds first, in its pretest step). */
export const WHARF_BIN = resolve(import.meta.dirname, '../../dist/cli/main.js');

export function requireBuild(): void {
  if (!existsSync(WHARF_BIN)) throw new Error(`${WHARF_BIN} is missing: run \`npm run build\` (npm test does it for you)`);
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'wharf-test-'));
}

/**
 * The environment of a wharf a test starts: its data folder is `wharf-data` in its own working
 * folder (a temporary one unless the test gives one), never the real `~/.local/share/wharf`.
 */
export function isolatedEnv(cwd: string, env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, WHARF_LOG_LEVEL: 'warn', WHARF_DATA: join(cwd, 'wharf-data'), XDG_DATA_HOME: join(cwd, 'xdg-data'), ...env };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `wharf ARGS` to completion. */
export function runWharf(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  requireBuild();
  return new Promise((resolvePromise, reject) => {
    const cwd = options.cwd ?? tempDataDir();
    const child = spawn(process.execPath, [WHARF_BIN, ...args], { env: isolatedEnv(cwd, options.env), cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wharf ${args.join(' ')} did not finish; stdout=${stdout} stderr=${stderr}`));
    }, options.timeoutMs ?? 45_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/**
 * `--set` flags that put every service of a bare `wharf serve` on a free port, so that a test
 * never needs (or collides with) a default port, e.g. a `wharf serve` the developer left running.
 */
export function everyPortZero(except: readonly string[] = []): string[] {
  const keys = ['echo.port', 'tftp.port', 'web.port', 'diary.port', 'dict.port', 'chat.port', 'chat.tcpPort', 'ftp.port', 'discovery.port'];
  return keys.filter((key) => !except.includes(key)).flatMap((key) => ['--set', `${key}=0`]);
}

/** The port of a listening line: `echo tcp://127.0.0.1:7007`, `web http://[::1]:8000/`. */
export function listeningPort(line: string): number {
  const match = /:(\d+)\/?$/.exec(line);
  if (!match) throw new Error(`not a listening line: ${line}`);
  return Number(match[1]);
}

export interface RunningWharf {
  child: ChildProcessWithoutNullStreams;
  /** `service transport://host:port` lines printed on start (`web http://host:port/` for a web service). */
  lines: string[];
  port(service: string, transport: 'tcp' | 'udp'): number;
  stderr(): string;
  /** Send a signal and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start a long-running `wharf ... serve` and wait until it has printed `expectLines` listening lines. */
export function startWharf(args: string[], options: { expectLines: number; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string }): Promise<RunningWharf> {
  requireBuild();
  return new Promise((resolvePromise, reject) => {
    const cwd = options.cwd ?? tempDataDir();
    const child = spawn(process.execPath, [WHARF_BIN, ...args], { env: isolatedEnv(cwd, options.env), cwd });
    const lines: string[] = [];
    let stderr = '';
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wharf ${args.join(' ')} did not start; lines=${lines.join('|')} stderr=${stderr}`));
    }, options.timeoutMs ?? 45_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      if (lines.length < options.expectLines) {
        clearTimeout(timer);
        reject(new Error(`wharf exited with ${code} before listening; stderr=${stderr}`));
      }
    });
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        lines.push(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
      if (lines.length >= options.expectLines) {
        clearTimeout(timer);
        resolvePromise({
          child,
          lines,
          port(service, transport) {
            const line = lines.find((l) => l.startsWith(`${service} ${transport}://`) || (transport === 'tcp' && /^\S+ https?:\/\//.test(l) && l.startsWith(`${service} `)));
            if (!line) throw new Error(`no ${service} ${transport} line in ${lines.join(' | ')}`);
            return listeningPort(line);
          },
          stderr: () => stderr,
          stop(signal = 'SIGTERM') {
            return new Promise((done) => {
              // Already gone (exited, or killed by a signal): exitCode or signalCode is set.
              if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
              child.once('exit', (code) => done(code));
              child.kill(signal);
            });
          },
        });
      }
    });
  });
}
