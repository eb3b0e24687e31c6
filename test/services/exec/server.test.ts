import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecClient } from '../../../src/services/exec/client.js';
import { collector, groupAlive, loggedIn, startExec, waitUntil, type ExecFixture } from './support.js';

let fixture: ExecFixture;
beforeAll(async () => {
  fixture = await startExec({ maxOutputBytes: 1024 * 1024, timeoutMs: 1_500, maxRuns: 8, maxRunsPerAccount: 4 });
});
afterAll(() => fixture.stop());

describe('exec: who may run what', () => {
  it('refuses every request before a login', async () => {
    const client = await ExecClient.connect({ host: '127.0.0.1', port: fixture.port });
    await expect(client.run('hello', [], collector().handlers)).rejects.toThrow(/log in first/);
    client.close();
  });

  it('refuses a wrong password (after the throttling delay of the store)', async () => {
    const client = await ExecClient.connect({ host: '127.0.0.1', port: fixture.port });
    await expect(client.login('alice', 'wrong')).rejects.toThrow(/wrong name or password/);
    client.close();
  });

  it('lists only what the account may run, groups included', async () => {
    const alice = await loggedIn(fixture.port);
    expect((await alice.list()).map((c) => c.name)).toEqual(['hello', 'say', 'quiet', 'flood', 'forever', 'slow']);
    alice.close();
    const bob = await loggedIn(fixture.port, 'bob');
    expect(await bob.list()).toEqual([{ name: 'lines', usage: 'lines {n:int 1..1000}', description: 'seq {n:int 1..1000}' }]);
    alice.close();
    bob.close();
  });

  it('refuses a command not on the list, and one that is not this account\'s', async () => {
    const alice = await loggedIn(fixture.port);
    await expect(alice.run('rm', ['-rf', '/'], collector().handlers)).rejects.toThrow(/no command rm for alice/);
    await expect(alice.run('admin', [], collector().handlers)).rejects.toThrow(/no command admin for alice/);
    await expect(alice.run('lines', ['3'], collector().handlers)).rejects.toThrow(/no command lines/);
    alice.close();
  });

  it('checks each parameter against its type and range', async () => {
    const bob = await loggedIn(fixture.port, 'bob');
    for (const bad of [['0'], ['1001'], ['1e3'], ['3; rm -rf /'], ['-5'], [], ['1', '2']]) {
      await expect(bob.run('lines', bad, collector().handlers)).rejects.toThrow(/n|argument/);
    }
    const out = collector();
    expect(await bob.run('lines', ['3'], out.handlers)).toMatchObject({ code: 0, signal: null });
    expect(out.stdout).toBe('1\n2\n3\n');
    bob.close();
  });

  it('passes shell metacharacters as literal argv, never to a shell', async () => {
    const alice = await loggedIn(fixture.port);
    for (const text of ['; rm -rf /', '$(id)', '`id`', 'a | cat /etc/passwd', "' \" * ? ~ & > /tmp/x"]) {
      const out = collector();
      expect(await alice.run('say', [text, 'w'], out.handlers)).toMatchObject({ code: 0 });
      expect(out.stdout).toBe(`${text}|w|`);
    }
    for (const text of ['line\nbreak', 'nul\0byte', '--option']) await expect(alice.run('say', [text, 'w'], collector().handlers)).rejects.toThrow(/text/);
    await expect(alice.run('say', ['ok', '-rf'], collector().handlers)).rejects.toThrow(/word/);
    alice.close();
  });
});

describe('exec: limits', () => {
  it('streams stdout and stderr apart and returns the exit status', async () => {
    const alice = await loggedIn(fixture.port);
    const out = collector();
    expect(await alice.run('slow', [], out.handlers)).toMatchObject({ code: 3, signal: null });
    expect(out).toMatchObject({ stdout: 'one\n', stderr: 'two\n' });
    alice.close();
  });

  it('cuts 1 GiB of output at the limit, kills the process and says so', async () => {
    const alice = await loggedIn(fixture.port);
    let bytes = 0;
    const status = await alice.run('flood', [], { stdout: (chunk) => void (bytes += chunk.length), stderr: () => {} });
    expect(status).toMatchObject({ code: null, signal: 'SIGKILL', reason: 'output-limit', bytesOut: 1024 * 1024 });
    expect(bytes).toBe(1024 * 1024);
    alice.close();
  });

  it('kills a command that never ends at the wall time, with its children', async () => {
    const alice = await loggedIn(fixture.port);
    const out = collector();
    const status = await alice.run('forever', [], out.handlers);
    expect(status).toMatchObject({ signal: 'SIGKILL', reason: 'timeout' });
    const pgid = Number(out.stdout.trim());
    expect(await waitUntil(() => !groupAlive(pgid), 1_000)).toBe(true);
    alice.close();
  });

  it('kills the whole process group within a second when the client vanishes', async () => {
    const alice = await loggedIn(fixture.port);
    let pgid = 0;
    void alice.run('forever', [], { stdout: (chunk) => void (pgid = Number(chunk.toString().trim())), stderr: () => {} }).catch(() => {});
    expect(await waitUntil(() => pgid > 0, 3_000)).toBe(true);
    expect(groupAlive(pgid)).toBe(true);
    alice.close();
    expect(await waitUntil(() => !groupAlive(pgid), 1_000)).toBe(true);
  });

  it('cancel stops the remote command', async () => {
    const alice = await loggedIn(fixture.port);
    let pgid = 0;
    const running = alice.run('forever', [], { stdout: (chunk) => void (pgid = Number(chunk.toString().trim())), stderr: () => {} });
    expect(await waitUntil(() => pgid > 0, 3_000)).toBe(true);
    alice.cancel();
    expect(await running).toMatchObject({ reason: 'cancelled', signal: 'SIGKILL' });
    expect(groupAlive(pgid)).toBe(false);
    alice.close();
  });

  it('holds the per-account and total limits under 100 concurrent requests, and stays responsive', async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => loggedIn(fixture.port)));
    const results = await Promise.allSettled(clients.map((client) => client.run('slow', [], collector().handlers)));
    const ran = results.filter((r) => r.status === 'fulfilled').length;
    const busy = results.filter((r) => r.status === 'rejected' && /too many commands/.test(String(r.reason))).length;
    expect(ran + busy).toBe(100);
    // All 100 asked at once: only alice's 4 slots run at a time, the rest are told to come back.
    expect(ran).toBeGreaterThanOrEqual(4);
    expect(busy).toBeGreaterThanOrEqual(80);
    for (const client of clients) client.close();
    const bob = await loggedIn(fixture.port, 'bob');
    expect(await bob.run('lines', ['1'], collector().handlers)).toMatchObject({ code: 0 });
    bob.close();
  });

  it('answers a malformed frame with an error and closes', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: fixture.port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    // A control frame (kind 0) of 9 bytes whose body is not JSON.
    socket.write(Buffer.concat([Buffer.from([0, 0, 0, 9, 0]), Buffer.from('not json')]));
    await closed;
    expect(Buffer.concat(chunks).subarray(5).toString()).toContain('"code":"bad-request"');
  });
});

describe('exec: the audit trail', () => {
  it('stores every run and shows it to administrators only', async () => {
    const bob = await loggedIn(fixture.port, 'bob');
    await bob.run('lines', ['2'], collector().handlers);
    await expect(bob.history(5)).rejects.toThrow(/administrators/);
    bob.close();
    const admin = await loggedIn(fixture.port, 'root-admin', 'admin-password');
    const rows = await admin.history(100);
    expect(rows.find((row) => row.account === 'bob' && row.command === 'lines' && row.args[0] === '2')).toMatchObject({ code: 0, bytesOut: 4, address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(rows.some((row) => row.reason === 'output-limit' && row.bytesOut === 1024 * 1024)).toBe(true);
    admin.close();
  });
});
