import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startWharf, type RunningWharf } from '../helpers/cli.js';
import { RawControl } from '../services/ftp/support.js';

const running: RunningWharf[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.stop('SIGKILL');
});

/** One FTP login attempt on a fresh connection: the reply to PASS (530 wrong, 421 locked out). */
async function tryLogin(port: number, name: string): Promise<{ code: number; text: string }> {
  const control = await RawControl.open(port);
  try {
    expect((await control.next(10_000))?.code).toBe(220);
    await control.cmd(`USER ${name}`, 10_000);
    const reply = await control.cmd('PASS wrong-password', 10_000);
    return { code: reply.code, text: reply.lines.join(' ') };
  } finally {
    control.close();
  }
}

/** `SITE REGISTER` on a fresh connection: 200 registered, 450 too many from this address. */
async function register(port: number, name: string): Promise<number> {
  const control = await RawControl.open(port);
  try {
    expect((await control.next(10_000))?.code).toBe(220);
    return (await control.cmd(`SITE REGISTER ${name} a-password`, 10_000)).code;
  } finally {
    control.close();
  }
}

async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('--workers', () => {
  it('shares the login throttle: failures spread over the workers add up, and a restarted worker knows them', async () => {
    const server = await startWharf(['ftp', 'serve', '--port', '0', '--workers', '2'], { expectLines: 1, env: { WHARF_LOG_LEVEL: 'info' } });
    running.push(server);
    const port = server.port('ftp', 'tcp');
    const readyLines = () => server.stderr().split('\n').filter((line) => line.includes('"msg":"ready')).length;
    await until(() => readyLines() >= 2, 'both workers');

    // Ten failures from one address (each for another name, so each waits only the first 1 s
    // delay), dealt round-robin: five to each worker. Alone, neither worker would reach the
    // per-address limit of ten.
    const failures = await Promise.all(Array.from({ length: 10 }, (_, i) => tryLogin(port, `guess${i}`)));
    expect(failures.map((f) => f.code)).toEqual(Array(10).fill(530));
    for (let i = 0; i < 4; i++) {
      const locked = await tryLogin(port, `another${i}`);
      expect(locked.code, locked.text).toBe(421);
      expect(locked.text).toMatch(/Too many failed logins/);
    }

    // Replace both workers, one after the other: the new ones learn the lock from the primary.
    const workers = () => execFileSync('pgrep', ['-P', String(server.child.pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
    for (let round = 1; round <= 2; round++) {
      const [victim] = workers();
      process.kill(victim!, 'SIGKILL');
      await until(() => readyLines() >= 2 + round, `replacement worker ${round}`);
    }
    for (let i = 0; i < 4; i++) {
      const locked = await tryLogin(port, `later${i}`);
      expect(locked.code, locked.text).toBe(421);
    }
    expect(await server.stop('SIGTERM')).toBe(0);
    running.pop();
  }, 60_000);

  it('shares the self-registration allowance: five per address per hour for the whole server', async () => {
    const server = await startWharf(['ftp', 'serve', '--port', '0', '--workers', '2'], { expectLines: 1 });
    running.push(server);
    const port = server.port('ftp', 'tcp');
    // One at a time, dealt round-robin over the two workers: alone each would allow five.
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push(await register(port, `newcomer${i}`));
    expect(codes.slice(0, 5).every((code) => code >= 200 && code < 300), codes.join(' ')).toBe(true);
    expect(codes.slice(5)).toEqual([450, 450, 450]);
    expect(await server.stop('SIGTERM')).toBe(0);
    running.pop();
  }, 60_000);
});
