import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readHiddenLine } from '../../src/cli-kit/prompt.js';
import { formatSize, parseSizeArgument, runUserCommand, type UserCommandIo } from '../../src/cli/user-command.js';
import { UsageError, WharfError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import { testDatabases } from './databases.js';

const WHARF_USER = fileURLToPath(new URL('./fixtures/wharf-user.ts', import.meta.url));

interface Run {
  stdout: string;
}

async function run(args: string[], io: Partial<UserCommandIo> & { input?: string } = {}): Promise<Run> {
  let stdout = '';
  const { input, ...rest } = io;
  await runUserCommand(args, {
    stdin: Readable.from(input === undefined ? [] : [input]),
    stdout: { write: (text: string) => (stdout += text) },
    stderr: new PassThrough(),
    env: {},
    ...rest,
  });
  return { stdout };
}

async function rejection(promise: Promise<unknown>): Promise<WharfError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WharfError);
  return error as WharfError;
}

describe('wharf user', () => {
  let dataDir: string;
  let data: string[];
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'wharf-user-'));
    data = ['--data', dataDir];
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  async function verify(name: string, password: string): Promise<boolean> {
    const store = await openStore({ dataDir });
    try {
      return (await store.accounts.verify(name, password, '127.0.0.1')).ok;
    } finally {
      await store.close();
    }
  }

  it('adds, lists, changes the password of, sets the quota of, disables and deletes an account', async () => {
    const where = `to the accounts in ${path.join(dataDir, 'wharf.db')}`;
    expect((await run(['add', 'alice', '--password-stdin', ...data], { input: 'first secret\n' })).stdout).toBe(`added alice (user, quota 1 GiB) ${where}\n`);
    expect((await run(['add', 'boss', '--admin', '--quota', '500M', '--password-stdin', ...data], { input: 'x\r\n' })).stdout).toBe(`added boss (admin, quota 500 MiB) ${where}\n`);
    expect(await verify('alice', 'first secret')).toBe(true);
    expect(await verify('boss', 'x')).toBe(true);

    const listed = JSON.parse((await run(['list', '--json', ...data])).stdout) as Array<Record<string, unknown>>;
    expect(listed).toEqual([
      { name: 'alice', role: 'user', disabled: false, quotaBytes: 1024 ** 3, bytesUsed: 0, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      { name: 'boss', role: 'admin', disabled: false, quotaBytes: 500 * 1024 ** 2, bytesUsed: 0, createdAt: expect.any(String) },
    ]);
    const table = (await run(['list', ...data])).stdout.split('\n');
    expect(table[0]).toMatch(/^NAME\s+ROLE\s+DISABLED\s+QUOTA\s+USED\s+CREATED$/);
    expect(table[1]).toMatch(/^alice\s+user\s+no\s+1 GiB\s+0 B\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    await run(['passwd', 'alice', '--password-stdin', ...data], { input: 'second secret' });
    expect(await verify('alice', 'first secret')).toBe(false);
    expect(await verify('alice', 'second secret')).toBe(true);

    expect((await run(['quota', 'alice', '2GiB', ...data])).stdout).toBe('quota of alice: 2 GiB (0 B used)\n');
    expect((await run(['disable', 'alice', ...data])).stdout).toBe('disabled alice\n');
    expect(await verify('alice', 'second secret')).toBe(false);
    await run(['enable', 'alice', ...data]);
    expect(await verify('alice', 'second secret')).toBe(true);

    expect((await run(['del', 'alice', ...data])).stdout).toBe('deleted alice\n');
    expect(JSON.parse((await run(['list', '--json', ...data])).stdout)).toHaveLength(1);
  });

  it('takes --data and --db from WHARF_DATA and WHARF_DB, and --data before the verb', async () => {
    await run(['add', 'alice', '--password-stdin'], { input: 'pw\n', env: { WHARF_DATA: dataDir } });
    expect((await run(['--data', dataDir, 'list'])).stdout).toContain('alice');
    const other = path.join(dataDir, 'other.db');
    await run(['add', 'bob', '--password-stdin'], { input: 'pw\n', env: { WHARF_DB: `sqlite:${other}` } });
    expect((await run(['list', '--json', '--db', `sqlite:${other}`])).stdout).toContain('"bob"');
    expect((await run(['list', ...data])).stdout).not.toContain('bob');
  });

  it('asks twice on a terminal and refuses a mismatch or an empty password', async () => {
    const answers = ['tty secret', 'tty secret', 'one', 'two', ''];
    const questions: string[] = [];
    const readPassword = (question: string) => {
      questions.push(question);
      return Promise.resolve(answers.shift()!);
    };
    await run(['add', 'alice', ...data], { readPassword });
    expect(questions).toEqual(['Password for alice: ', 'Again: ']);
    expect(await verify('alice', 'tty secret')).toBe(true);
    expect((await rejection(run(['passwd', 'alice', ...data], { readPassword }))).message).toBe('the passwords do not match');
    expect(await rejection(run(['passwd', 'alice', ...data], { readPassword }))).toBeInstanceOf(UsageError);
    expect(await verify('alice', 'tty secret')).toBe(true);
  });

  it('never reads a password from a pipe without --password-stdin', async () => {
    const error = await rejection(run(['add', 'alice', ...data], { input: 'pw\n' }));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe('standard input is not a terminal: pipe the password in and pass --password-stdin');
    expect(await rejection(run(['add', 'alice', '--password-stdin', ...data], { input: '' }))).toBeInstanceOf(UsageError);
    expect(await rejection(run(['add', 'alice', '--password', 'pw', ...data]))).toBeInstanceOf(UsageError);
  });

  it('never creates a database from a verb other than add: it names the folder it looked in', async () => {
    for (const args of [['list'], ['list', '--json'], ['del', 'alice'], ['passwd', 'alice', '--password-stdin'], ['quota', 'alice', '1G'], ['disable', 'alice']]) {
      const error = await rejection(run([...args, ...data], { input: 'pw\n' }));
      expect(error).toMatchObject({ code: 'ENODATABASE' });
      expect(error.message).toContain(path.join(dataDir, 'wharf.db'));
    }
    expect(await readdir(dataDir)).toEqual([]);
    const elsewhere = path.join(dataDir, 'elsewhere');
    expect((await rejection(run(['list', '--data', elsewhere]))).message).toContain(elsewhere);
  });

  it('reports usage problems as UsageError and failures as WharfError', async () => {
    expect(await rejection(run(['add', 'a b', '--password-stdin', ...data], { input: 'pw\n' }))).toBeInstanceOf(UsageError);
    // A reserved name is refused even to the administrator (the role, not the name, gives rights).
    const reserved = await rejection(run(['add', 'Root', '--admin', '--password-stdin', ...data], { input: 'pw\n' }));
    expect(reserved).toBeInstanceOf(UsageError);
    expect(reserved.message).toBe('invalid account name "Root": "root" is reserved');
    expect(await rejection(run(['quota', 'alice', 'lots', ...data]))).toBeInstanceOf(UsageError);
    expect(await rejection(run(['frobnicate', ...data]))).toBeInstanceOf(UsageError);
    expect(await rejection(run(['list', '--db', 'oracle://x']))).toBeInstanceOf(UsageError);
    await run(['add', 'alice', '--password-stdin', ...data], { input: 'pw\n' });
    const missing = await rejection(run(['del', 'nobody', ...data]));
    expect(missing).not.toBeInstanceOf(UsageError);
    expect(missing).toMatchObject({ code: 'ENOUSER', message: 'there is no account named "nobody"' });
    expect(await rejection(run(['add', 'alice', '--password-stdin', ...data], { input: 'pw\n' }))).toMatchObject({ code: 'ETAKEN' });
    expect(await rejection(run(['add', 'ALICE', '--password-stdin', ...data], { input: 'pw\n' }))).toMatchObject({ code: 'ETAKEN' });
    expect(await rejection(run(['passwd', 'nobody', '--password-stdin', ...data], { input: 'pw\n' }))).toMatchObject({ code: 'ENOUSER' });
  });

  it('parses and prints sizes', () => {
    expect(['500M', '1G', '1GiB', '1048576', '512k', '2 MB'].map(parseSizeArgument)).toEqual([500 * 1024 ** 2, 1024 ** 3, 1024 ** 3, 1048576, 512 * 1024, 2 * 1024 ** 2]);
    expect(() => parseSizeArgument('-1')).toThrow(/not a size/);
    expect([0, 10, 1536, 1024 ** 3, 500 * 1024 ** 2, 5 * 1024 ** 4].map(formatSize)).toEqual(['0 B', '10 B', '1.5 KiB', '1 GiB', '500 MiB', '5 TiB']);
  });

  it('reads a password on a terminal without echoing it', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
    const answer = readHiddenLine('Password for alice: ', { input, output });
    input.write('hunter2\r');
    expect(await answer).toBe('hunter2');
    expect(shown).toBe('Password for alice: \n');

    const cancelled = readHiddenLine('Password: ', { input, output });
    input.write('\u0003'); // Ctrl-C
    expect(await rejection(cancelled)).toMatchObject({ code: 'EINTERRUPTED' });
  });

  it('works as a process: exit 0, 2 for usage, 1 for failures, and nothing on a fresh folder but SQLite', async () => {
    const wharf = (args: string[], input = '') =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', WHARF_USER, ...args, ...data], { stdio: 'pipe' });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        child.once('close', (status) => resolve({ status, stdout, stderr }));
        child.stdin.end(input);
      });
    // Independent of each other: run together (each process pays tsx's start-up).
    const none = path.join(dataDir, 'none.db');
    const [added, noTty, missing] = await Promise.all([wharf(['add', 'alice', '--password-stdin'], 'pw\n'), wharf(['add', 'bob']), wharf(['del', 'carol', '--db', `sqlite:${none}`])]);
    expect(added.stderr).toBe('');
    expect([added.status, added.stdout]).toEqual([0, `added alice (user, quota 1 GiB) to the accounts in ${path.join(dataDir, 'wharf.db')}\n`]);
    expect([noTty.status, noTty.stderr]).toEqual([2, 'wharf: standard input is not a terminal: pipe the password in and pass --password-stdin\n']);
    expect([missing.status, missing.stderr]).toEqual([1, `wharf: there is no wharf database at ${none} (wharf serve or wharf user add create it; --data or WHARF_DATA choose another data folder)\n`]);
    // Three tsx start-ups at once: slow on a busy 2-core machine.
  }, 120_000);
});

for (const database of testDatabases.filter((candidate) => candidate.dialect !== 'sqlite')) {
  describe.skipIf(!database.available)(`wharf user --db on ${database.label}`, () => {
    it('adds and lists accounts on the server', async () => {
      const fresh = await database.fresh();
      try {
        const db = ['--db', fresh.url!, '--data', fresh.dataDir];
        await run(['add', 'alice', '--quota', '1G', '--password-stdin', ...db], { input: 'pw\n' });
        const listed = JSON.parse((await run(['list', '--json', ...db])).stdout) as Array<{ name: string; quotaBytes: number }>;
        expect(listed.map(({ name, quotaBytes }) => ({ name, quotaBytes }))).toEqual([{ name: 'alice', quotaBytes: 1024 ** 3 }]);
      } finally {
        await fresh.drop();
      }
    });
  });
}
