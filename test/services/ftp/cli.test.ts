import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WHARF_BIN, requireBuild, runWharf } from '../../helpers/cli.js';
import { randomFile, startTestFtp, stopTestFtps, tempDir, type TestFtpServer } from './support.js';

// Each run of the built command costs a Node start-up: few runs, each checking several things.

afterEach(async () => {
  await stopTestFtps();
});

const env = { WHARF_PASSWORD: 'secret' };
const common = (server: TestFtpServer) => ['--port', String(server.port), '--user', 'alice'];

describe('wharf ftp get/put never mix or lose files', () => {
  it('get and put replace the other side whole, in the shell too (no silent resume into a different file)', async () => {
    const server = await startTestFtp();
    const cwd = await tempDir();
    const remote = Buffer.from(`${'the server copy, longer than the local one. '.repeat(5)}\n`);
    await writeFile(join(server.home('alice'), 'report.txt'), remote);
    await writeFile(join(cwd, 'report.txt'), 'local 10 B');

    const get = await runWharf(['ftp', 'get', 'report.txt', ...common(server)], { env, cwd });
    expect(get.code, get.stderr).toBe(0);
    expect(get.stderr).not.toMatch(/resumed/);
    expect((await readFile(join(cwd, 'report.txt'))).equals(remote)).toBe(true);
    expect(await readdir(cwd)).toEqual(['report.txt']);

    // The shell: the same two files again, both ways.
    await writeFile(join(cwd, 'report.txt'), 'local 10 B');
    await writeFile(join(cwd, 'other.txt'), 'short');
    const shell = await runWharf(['ftp', 'shell', ...common(server)], { env, cwd, input: 'get report.txt\nput other.txt report.txt\nquit\n' });
    expect(shell.code, shell.stderr).toBe(0);
    expect(shell.stderr).not.toMatch(/resumed/);
    expect((await readFile(join(cwd, 'report.txt'))).equals(remote)).toBe(true);
    expect(await readFile(join(server.home('alice'), 'report.txt'), 'utf8')).toBe('short');

    const local = Buffer.from('0123456789'.repeat(30));
    await writeFile(join(cwd, 'up.txt'), local);
    await writeFile(join(server.home('alice'), 'up.txt'), 'a different remote file');
    const put = await runWharf(['ftp', 'shell', ...common(server)], { env, cwd, input: 'put up.txt\nquit\n' });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).not.toMatch(/resumed/);
    expect((await readFile(join(server.home('alice'), 'up.txt'))).equals(local)).toBe(true);
  }, 30_000);

  it('a failed get leaves the target untouched and no file behind', async () => {
    const server = await startTestFtp();
    const cwd = await tempDir();
    await writeFile(join(cwd, 'keep.txt'), 'precious');
    const named = await runWharf(['ftp', 'get', 'nope.bin', 'keep.txt', ...common(server)], { env, cwd });
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(/550/);
    expect(await readFile(join(cwd, 'keep.txt'), 'utf8')).toBe('precious');
    const unnamed = await runWharf(['ftp', 'get', 'nope.bin', ...common(server)], { env, cwd });
    expect(unnamed.code).toBe(1);
    expect(await readdir(cwd)).toEqual(['keep.txt']);
    // A local folder that is not there: one sentence, no stack trace, nothing written.
    await writeFile(join(server.home('alice'), 'hello.txt'), 'hi');
    const nowhere = await runWharf(['ftp', 'get', 'hello.txt', join(cwd, 'missing', 'hello.txt'), ...common(server)], { env, cwd });
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(/^wharf: get hello\.txt: missing\/\.hello\.txt\.wharf-part\.json: no such file or folder\n$/);
    expect(await readdir(cwd)).toEqual(['keep.txt']);
  }, 30_000);

  it('get -c / put -c resume only bytes the server HASH shows to be the start of the file', async () => {
    const server = await startTestFtp();
    const cwd = await tempDir();
    const data = await randomFile(join(server.home('alice'), 'data.bin'), 300_000);
    // Not a prefix: refused, file as it was.
    await writeFile(join(cwd, 'data.bin'), Buffer.alloc(1000, 7));
    const wrong = await runWharf(['ftp', 'get', '-c', 'data.bin', ...common(server)], { env, cwd });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/not the start of the file \(SHA-256 differs\); not resuming/);
    expect((await readFile(join(cwd, 'data.bin'))).equals(Buffer.alloc(1000, 7))).toBe(true);
    // A true prefix: resumed.
    await writeFile(join(cwd, 'data.bin'), data.subarray(0, 100_000));
    const right = await runWharf(['ftp', 'get', '-c', 'data.bin', ...common(server)], { env, cwd });
    expect(right.code, right.stderr).toBe(0);
    expect((await readFile(join(cwd, 'data.bin'))).equals(data)).toBe(true);
    // put -c onto a server file that is not the start of ours: refused, server file as it was.
    await writeFile(join(server.home('alice'), 'mine.bin'), 'not the same bytes');
    await writeFile(join(cwd, 'mine.bin'), data);
    const put = await runWharf(['ftp', 'put', '-c', 'mine.bin', ...common(server)], { env, cwd });
    expect(put.code).toBe(1);
    expect(put.stderr).toMatch(/SHA-256 differs/);
    expect(await readFile(join(server.home('alice'), 'mine.bin'), 'utf8')).toBe('not the same bytes');
  }, 30_000);

  it('says why an upload does not fit before sending a byte (ALLO)', async () => {
    const server = await startTestFtp({}, { quota: 1024 * 1024 });
    const cwd = await tempDir();
    await randomFile(join(cwd, 'fw.bin'), 5 * 1024 * 1024);
    const put = await runWharf(['ftp', 'put', 'fw.bin', ...common(server)], { env, cwd });
    expect(put.code).toBe(1);
    expect(put.stderr).toBe('wharf: fw.bin (5.0 MiB) does not fit: 1.0 MiB free of 1.0 MiB\n');
    expect((await server.store.quota.usage('alice')).bytesUsed).toBe(0);
    expect(await readdir(server.home('alice'))).toEqual([]);
  }, 30_000);
});

describe('wharf ftp shell, piped', () => {
  it('--password-stdin with the commands in the same chunk runs them, and a failed one makes the exit non-zero', async () => {
    const server = await startTestFtp();
    await writeFile(join(server.home('alice'), 'hello.txt'), 'hi');
    const run = await runWharf(['ftp', 'shell', '--port', String(server.port), '--user', 'alice', '--password-stdin'], { input: 'secret\nls\nget ghost.txt\nlist\nquit\n' });
    expect(run.stdout).toMatch(/^- +2 B {2}\d{4}-.* {2}hello\.txt\nhello\.txt\n$/);
    expect(run.stderr).toMatch(/RETR ghost\.txt: 550/);
    expect(run.stderr).toMatch(/1 command failed/);
    expect(run.code).toBe(1);

    const ok = await runWharf(['ftp', 'shell', '--port', String(server.port), '--user', 'alice', '--password-stdin'], { input: 'secret\nls -l\nlpwd\nquit\n' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/hello\.txt\n/);
  }, 30_000);

  it('Ctrl-C during a get aborts it (ABOR), keeps a resumable partial, says so, and takes the next command', async () => {
    requireBuild();
    const server = await startTestFtp();
    const cwd = await tempDir();
    const data = await randomFile(join(server.home('alice'), 'big.bin'), 3 * 1024 * 1024);
    const child = spawn(process.execPath, [WHARF_BIN, 'ftp', 'shell', ...common(server), '--verbose', '--limit-rate', '1M'], { cwd, env: { ...process.env, ...env, WHARF_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdin.write('get big.bin\n');
    const partial = join(cwd, '.big.bin.wharf-part');
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !((existsSync(partial) && (await stat(partial)).size > 100_000))) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    while (Date.now() < deadline && !/kept in/.test(stderr)) await new Promise((r) => setTimeout(r, 20));
    expect(stderr).toMatch(/^> ABOR$/m);
    expect(stderr).toMatch(/get big\.bin: interrupted; .* of 3\.0 MiB kept in .*\.big\.bin\.wharf-part; `get big\.bin` again resumes\./);
    expect(existsSync(join(cwd, 'big.bin'))).toBe(false);
    const kept = (await stat(partial)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(data.length);
    // Still at the prompt: the next commands run, and the get resumes from the partial.
    child.stdin.end('pwd\nget big.bin\nquit\n');
    const code = await closed;
    expect(stdout).toMatch(/^\/$/m);
    expect(stderr).toMatch(/resuming wharf's partial download/);
    expect((await readFile(join(cwd, 'big.bin'))).equals(data)).toBe(true);
    expect(await readdir(cwd)).toEqual(['big.bin']);
    // One command (the interrupted get) failed.
    expect(code).toBe(1);
  }, 40_000);
});
