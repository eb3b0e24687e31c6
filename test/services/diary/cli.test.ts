import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DiaryClient } from '../../../src/services/diary/client.js';
import { parseSince } from '../../../src/services/diary/cli.js';
import { DiaryStore } from '../../../src/services/diary/diary-store.js';
import { CLEARED_REPLY, READ_FOOTER, READ_HEADER, stampedLine } from '../../../src/services/diary/protocol.js';
import { openStore } from '../../../src/store/index.js';
import { requireBuild, runWharf, startWharf, tempDataDir, type RunningWharf } from '../../helpers/cli.js';
import { seedSocket, stopAll } from './support.js';

const STAMPED = /^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] /;
const servers: RunningWharf[] = [];
/** Each test spawns the built CLI several times: generous limits for a busy machine. */
const SLOW = 120_000;
const run = (args: string[], options: Parameters<typeof runWharf>[1] = {}) => runWharf(args, { timeoutMs: 60_000, ...options });

beforeAll(() => requireBuild());
afterEach(async () => {
  await stopAll();
  await Promise.all(servers.splice(0).map((server) => kill(server)));
});

/** SIGKILL and wait for the exit (RunningWharf.stop waits forever for a child already killed by a signal). */
function kill(server: RunningWharf): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function serve(dataDir: string, extra: string[] = []): Promise<{ server: RunningWharf; port: number }> {
  const server = await startWharf(['diary', 'serve', '--port', '0', '--data', dataDir, ...extra], { expectLines: 1, env: { TZ: 'UTC' }, timeoutMs: 60_000 });
  servers.push(server);
  return { server, port: server.port('diary', 'udp') };
}

describe('wharf diary serve', () => {
  it('an acknowledged entry survives SIGKILL right after its acknowledgement, in both protocols', async () => {
    const dataDir = tempDataDir();
    const expected: string[] = [];
    for (let round = 0; round < 2; round++) {
      const { server, port } = await serve(dataDir);
      const client = await DiaryClient.connect({ port, retransmitMs: 50 });
      const seed = await seedSocket(port);
      if (round % 2 === 0) {
        // wharf's client: a burst of entries, killed the moment the last one is acknowledged.
        const texts = Array.from({ length: 50 }, (_, i) => `round ${round} entry ${i}`);
        expected.push(...texts);
        const writes = texts.map((text) => client.write(text));
        const exited = new Promise((resolve) => server.child.once('exit', (_code, signal) => resolve(signal)));
        await writes.at(-1)!.then(() => server.child.kill('SIGKILL'));
        await Promise.all(writes);
        expect(await exited).toBe('SIGKILL');
      } else {
        const exited = new Promise((resolve) => server.child.once('exit', (_code, signal) => resolve(signal)));
        const answer = seed.ask(`round ${round} seed entry 种子`);
        expected.push(`round ${round} seed entry 种子`);
        await answer.then(() => server.child.kill('SIGKILL'));
        expect(await exited).toBe('SIGKILL');
      }
      await client.close();
    }
    const { port } = await serve(dataDir);
    const client = await DiaryClient.connect({ port });
    try {
      expect((await client.read()).map((e) => e.text)).toEqual(expected);
    } finally {
      await client.close();
    }
  }, SLOW);
});

describe('wharf diary (the client)', () => {
  it('shows the diary, then answers each typed line as the seed client did', async () => {
    const { port } = await serve(tempDataDir(), ['--anonymous-clear']);
    const writer = await DiaryClient.connect({ port });
    await writer.write('already there');
    await writer.close();
    const result = await run(['diary', '-p', String(port)], { input: 'hello 你好\n\n-R\n-c\n-r\n', env: { TZ: 'UTC' } });
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(READ_HEADER);
    expect(lines[1]).toMatch(STAMPED);
    expect(lines[1]).toMatch(/already there$/);
    expect(lines[2]).toBe(READ_FOOTER);
    expect(lines[3]).toMatch(/^\[.*\] hello 你好$/);
    // -c on a server run with --anonymous-clear empties the diary, as the seed's did.
    expect(lines.slice(4)).toEqual([READ_HEADER, lines[1], lines[3], READ_FOOTER, CLEARED_REPLY, READ_HEADER, READ_FOOTER]);
  }, SLOW);

  it('write, read --json and clear, logged in with WHARF_PASSWORD', async () => {
    const dataDir = tempDataDir();
    const store = await openStore({ dataDir });
    await store.accounts.add('alice', 'alice-password');
    await store.close();
    const { port } = await serve(dataDir);
    const as = { env: { WHARF_PASSWORD: 'alice-password', TZ: 'UTC' } };
    const p = ['-p', String(port)];
    const written = await run(['diary', 'write', ...p, '--user', 'alice', '我的', '日记'], as);
    expect(written.stdout).toMatch(/^\[\w{3} .*\] 我的 日记\n$/);
    const mine = await run(['diary', 'read', ...p, '--user', 'alice', '--json'], as);
    const parsed = JSON.parse(mine.stdout) as Array<{ id: number; time: string; text: string; by: string }>;
    expect(parsed).toEqual([{ id: expect.any(Number), time: expect.any(String), text: '我的 日记', by: 'alice' }]);
    const cleared = await run(['diary', 'clear', ...p, '--user', 'alice'], as);
    expect(cleared.stdout).toBe(`${CLEARED_REPLY} (alice's diary: 1 entry removed)\n`);
    const refused = await run(['diary', 'clear', ...p]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/may not clear the public diary/);
    const wrong = await run(['diary', 'read', ...p, '--user', 'alice'], { env: { WHARF_PASSWORD: 'nope' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong account name or password/);
  }, SLOW);

  it('export writes the seed\'s daily.log; import reads it back, once', async () => {
    const dataDir = tempDataDir();
    const store = await openStore({ dataDir });
    const { ms } = await new DiaryStore(store).commitWrites(
      [
        { diary: '', text: '第一行', account: null, address: '127.0.0.1:1' },
        { diary: '', text: 'second line', account: null, address: '127.0.0.1:1' },
      ],
      new Map(),
    );
    await store.close();
    const exported = await run(['diary', 'export', '--data', dataDir, '--tz', 'UTC']);
    expect(exported.stdout).toBe(`${stampedLine(ms, '第一行', 'UTC')}\n${stampedLine(ms, 'second line', 'UTC')}\n`);

    const file = join(tempDataDir(), 'daily.log');
    writeFileSync(file, `${exported.stdout}[Sat Oct 31 12:00:00 2015] from the seed\n`);
    const other = tempDataDir();
    const imported = await run(['diary', 'import', file, '--data', other, '--tz', 'UTC']);
    const where = join(other, 'wharf.db');
    expect(imported.stdout).toBe(`imported 3 entries into the public diary in ${where}\n`);
    const again = await run(['diary', 'import', file, '--data', other, '--tz', 'UTC']);
    expect(again.stdout).toBe(`imported 0 entries into the public diary in ${where} (3 already there)\n`);
    const out = join(other, 'out.log');
    await run(['diary', 'export', '--data', other, '--tz', 'UTC', '-o', out]);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(file, 'utf8'));

    // From a folder with no database: one sentence naming it, and nothing created there.
    const empty = tempDataDir();
    const missing = await run(['diary', 'export', '--data', empty]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`there is no wharf database at ${join(empty, 'wharf.db')}`);
    expect(readdirSync(empty)).toEqual([]);
  }, SLOW);
});

describe('--since', () => {
  it('takes a duration ago, a local date, or an ISO time', () => {
    const now = Date.parse('2026-11-23T18:00:00Z');
    expect(parseSince('2h', now).toISOString()).toBe('2026-11-23T16:00:00.000Z');
    expect(parseSince('30m', now).toISOString()).toBe('2026-11-23T17:30:00.000Z');
    expect(parseSince('7d', now).toISOString()).toBe('2026-11-16T18:00:00.000Z');
    expect(parseSince('2026-11-23T18:00:00Z').toISOString()).toBe('2026-11-23T18:00:00.000Z');
    expect(parseSince('2026-11-23').getTime()).toBe(new Date(2026, 10, 23).getTime());
    expect(() => parseSince('yesterday')).toThrow(/not a time/);
  });
});
