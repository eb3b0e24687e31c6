import { mkdir, mkdtemp, readdir, readFile, realpath, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileRoot } from '../../../src/store/file-root.js';
import { FileBlockSink } from '../../../src/services/tftp/files.js';
import { resolveWriteTarget, TftpRefusal } from '../../../src/services/tftp/paths.js';
import { TftpErrorCode } from '../../../src/services/tftp/protocol.js';

async function folders(): Promise<{ root: string; outside: string }> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'wharf-tftp-sink-')));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  return { root, outside };
}

describe('FileBlockSink in a root', () => {
  it('writes an upload into the folder that was resolved', async () => {
    const { root } = await folders();
    const target = await resolveWriteTarget(root, 'new.bin', false);
    const sink = await FileBlockSink.create({ path: target.path, netascii: false, overwrite: false, root: target.root });
    sink.write(Buffer.from('data'));
    await sink.finish();
    expect(await readFile(join(root, 'new.bin'), 'utf8')).toBe('data');
  });

  it.runIf(process.platform === 'linux')('refuses, and leaves nothing, when a folder on the way became a symlink out of the root after it was resolved', async () => {
    const { root, outside } = await folders();
    // What resolveWriteTarget gave out for "sub/x" before "sub" was swapped for a link to outside.
    await symlink(outside, join(root, 'sub'));
    const creating = FileBlockSink.create({ path: join(root, 'sub', 'x'), netascii: false, overwrite: false, root: FileRoot.atRealPath(root) });
    await expect(creating).rejects.toBeInstanceOf(TftpRefusal);
    await expect(creating).rejects.toMatchObject({ tftpCode: TftpErrorCode.ACCESS_VIOLATION });
    expect(await readdir(outside)).toEqual([]);
  });

  it('writes through a symlinked folder when no root is given (the client saving where its user said)', async () => {
    const { root, outside } = await folders();
    await symlink(outside, join(root, 'sub'));
    const sink = await FileBlockSink.create({ path: join(root, 'sub', 'x'), netascii: false, overwrite: true });
    sink.write(Buffer.from('saved'));
    await sink.finish();
    expect(await readFile(join(outside, 'x'), 'utf8')).toBe('saved');
  });
});
