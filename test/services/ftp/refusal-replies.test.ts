/**
 * Review of the FileRoot merge: a file the server may not read is a 550 "permission denied", as it
 * was before (b6360df: the errno went through replyForFsError), never a 451 "Local error in
 * processing" with an error-level log line. Since Home delegates to FileRoot, some calls throw a
 * FileRootRefusal that no caller turns into an FTP reply (SIZE in ASCII mode, LIST of `dir/*`).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RawControl, startTestFtp, stopTestFtps, type TestFtpServer } from './support.js';

afterEach(async () => {
  await stopTestFtps();
});

const NOBODY = 65534;

/**
 * Run `fn` with the permissions of an ordinary user. As root (which reads anything) the process's
 * effective uid is nobody's meanwhile, and the folders down to the home are made traversable.
 */
async function withoutRoot<T>(server: TestFtpServer, fn: () => Promise<T>): Promise<T> {
  const setEuid = process.seteuid;
  if (process.geteuid?.() !== 0 || setEuid === undefined) return fn();
  let folder = server.home('alice');
  const stop = dirname(server.dataDir);
  const folders: string[] = [];
  while (relative(stop, folder) !== '' && !relative(stop, folder).startsWith('..')) {
    folders.push(folder);
    folder = dirname(folder);
  }
  for (const f of folders) await chmod(f, 0o755);
  setEuid.call(process, NOBODY);
  try {
    return await fn();
  } finally {
    setEuid.call(process, 0);
  }
}

describe('ftp: refusals from the file root are FTP replies', () => {
  it('SIZE in ASCII mode of an unreadable file: 550 permission denied, not 451', async () => {
    const server = await startTestFtp();
    const file = join(server.home('alice'), 'locked.txt');
    await writeFile(file, 'one\ntwo\n');
    await chmod(file, 0o000);
    const raw = await RawControl.open(server.port);
    await raw.login();
    expect((await raw.cmd('TYPE A')).code).toBe(200);
    const reply = await withoutRoot(server, () => raw.cmd('SIZE locked.txt'));
    expect({ code: reply.code, text: reply.lines.join(' ') }).toMatchObject({ code: 550, text: expect.stringMatching(/permission denied/) });
    raw.close();
  });

  it('LIST of dir/* in an unreadable folder: 550, not 451', async () => {
    const server = await startTestFtp();
    const folder = join(server.home('alice'), 'closed');
    await mkdir(folder);
    await writeFile(join(folder, 'a.txt'), 'a');
    await chmod(folder, 0o311); // traversable, not readable
    const raw = await RawControl.open(server.port);
    await raw.login();
    const reply = await withoutRoot(server, async () => {
      await raw.passive();
      return raw.cmd('LIST closed/*.txt');
    });
    expect(reply.code).toBe(550);
    raw.close();
  });
});
