/**
 * What the FTP server logs, as an operator reads it: one event per transfer whose message is the
 * whole line (who, from where, what, how much, how it ended, how long), one WARN per failed login.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { capturingLogger } from '../../helpers/logs.js';
import { formatSize, formatTransferLine } from '../../../src/services/ftp/log-lines.js';
import { RawControl, readAll, startTestFtp, stopTestFtps } from './support.js';

afterEach(async () => {
  await stopTestFtps();
});


const WARN = 40;
const INFO = 30;

describe('ftp server: log lines', () => {
  it('logs one line per transfer, saying who, what, how much and how it ended', async () => {
    const { logger, events } = capturingLogger();
    const server = await startTestFtp({}, { logger });
    const raw = await RawControl.open(server.port);
    await raw.login();
    await raw.cmd('TYPE I');
    let data = await raw.passive();
    expect((await raw.cmd('STOR f.bin')).code).toBe(150);
    data.end(Buffer.alloc(1024 * 1024 + 512 * 1024, 1));
    expect((await raw.next())?.code).toBe(226);
    data = await raw.passive();
    const received = readAll(data);
    expect((await raw.cmd('RETR f.bin')).code).toBe(150);
    await received;
    expect((await raw.next())?.code).toBe(226);
    raw.close();
    await new Promise((r) => setTimeout(r, 50));
    const transfers = events.filter((e) => / (STOR|RETR) /.test(e.msg));
    expect(transfers.map((e) => e.level)).toEqual([INFO, INFO]);
    expect(transfers[0]?.msg).toMatch(/^alice 127\.0\.0\.1 STOR \/f\.bin 1\.5 MiB complete \d+\.\d+ s$/);
    expect(transfers[1]?.msg).toMatch(/^alice 127\.0\.0\.1 RETR \/f\.bin 1\.5 MiB complete \d+\.\d+ s$/);
  });

  it('an upload whose client closed its control connection is an aborted transfer, not an error with a stack', async () => {
    const { logger, events } = capturingLogger();
    const server = await startTestFtp({}, { logger });
    const raw = await RawControl.open(server.port);
    await raw.login();
    await raw.cmd('TYPE I');
    const data = await raw.passive();
    expect((await raw.cmd('STOR gone.bin')).code).toBe(150);
    data.write(Buffer.alloc(64 * 1024, 1));
    raw.socket.end(); // the client is gone from the control connection; its data still arrives
    data.end(Buffer.alloc(64 * 1024, 2));
    const deadline = Date.now() + 5_000;
    while (!events.some((e) => / STOR \/gone\.bin /.test(e.msg)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(events.filter((e) => e.level >= 50).map((e) => e.msg)).toEqual([]);
    expect(events.find((e) => / STOR \/gone\.bin /.test(e.msg))?.msg).toMatch(/ aborted .*[Cc]onnection closed/);
  });

  it('says why a transfer was aborted, on the same line', () => {
    expect(formatTransferLine({ user: 'alice', ip: '::1', verb: 'RETR', path: '/big.bin', bytes: 5 * 1024 * 1024, ms: 1234, complete: false, reason: 'Connection closed; transfer aborted.' })).toBe(
      'alice ::1 RETR /big.bin 5.0 MiB aborted 1.2 s: Connection closed; transfer aborted',
    );
    expect(formatSize(10)).toBe('10 B');
  });

  it('logs each failed login once, as a WARN', async () => {
    const { logger, events } = capturingLogger();
    const server = await startTestFtp({ maxLoginFailures: 2 }, { logger });
    const raw = await RawControl.open(server.port);
    await raw.next();
    await raw.cmd('USER alice');
    expect((await raw.cmd('PASS wrong')).code).toBe(530);
    await raw.cmd('USER nobody');
    expect((await raw.cmd('PASS wrong')).code).toBe(530);
    expect((await raw.next())?.code).toBe(421);
    raw.close();
    const failures = events.filter((e) => /login/.test(e.msg));
    expect(failures.map((e) => [e.level, e.msg])).toEqual([
      [WARN, 'alice 127.0.0.1 login failed: wrong name or password (1 of 2)'],
      [WARN, 'nobody 127.0.0.1 login failed: wrong name or password (2 of 2)'],
    ]);
  });
});
