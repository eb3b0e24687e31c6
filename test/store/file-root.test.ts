import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, normalize, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileRoot, FileRootRefusal, isInsideRoot, MAX_NAME_BYTES, refusalForErrno, segmentsProblem, type FileRootRefusalReason } from '../../src/store/file-root.js';

/** The reason a call was refused with, or 'ok'. */
async function outcome(promise: Promise<unknown>): Promise<FileRootRefusalReason | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof FileRootRefusal) return error.reason;
    throw error;
  }
}

describe('segmentsProblem (pure)', () => {
  it('accepts plain names, byte for byte up to 255 bytes of UTF-8', () => {
    expect(segmentsProblem([])).toBeUndefined();
    expect(segmentsProblem(['a', 'b.txt', '..a', 'a..', '...', '%2e%2e', 'a\\b', 'CON', 'nul.txt', ' ', 'é'])).toBeUndefined();
    expect(segmentsProblem(['x'.repeat(MAX_NAME_BYTES)])).toBeUndefined();
    expect(segmentsProblem(['é'.repeat(127) + 'x'])).toBeUndefined(); // 255 bytes
  });

  it('refuses what is not one plain name', () => {
    for (const bad of ['', '.', '..', 'a/b', '/', 'a\u0000b', '\u0000', 'a\nb', '\r', '\u001f', '\u007f']) {
      expect(segmentsProblem(['ok', bad]), JSON.stringify(bad)).toBe('bad-name');
    }
  });

  it('refuses names over 255 bytes (counted in UTF-8, not characters) and paths over 4096', () => {
    expect(segmentsProblem(['x'.repeat(MAX_NAME_BYTES + 1)])).toBe('too-long');
    expect(segmentsProblem(['é'.repeat(128)])).toBe('too-long'); // 128 characters, 256 bytes
    expect(segmentsProblem(Array.from({ length: 16 }, () => 'x'.repeat(255)))).toBeUndefined(); // 16 × 256 = 4096
    expect(segmentsProblem(Array.from({ length: 17 }, () => 'x'.repeat(255)))).toBe('too-long');
  });
});

describe('isInsideRoot (pure)', () => {
  it('is the root or below it, never a sibling that shares a prefix', () => {
    expect(isInsideRoot('/srv/www', '/srv/www')).toBe(true);
    expect(isInsideRoot('/srv/www', '/srv/www/a')).toBe(true);
    expect(isInsideRoot('/srv/www/', '/srv/www/a')).toBe(true);
    expect(isInsideRoot('/srv/www', '/srv/wwwx')).toBe(false);
    expect(isInsideRoot('/srv/www', '/srv/www-secret/a')).toBe(false);
    expect(isInsideRoot('/srv/www', '/srv')).toBe(false);
    expect(isInsideRoot('/', '/etc/passwd')).toBe(true);
  });
});

describe('refusalForErrno', () => {
  it('turns the errnos a request can cause into refusals and leaves server faults alone', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code });
    expect(refusalForErrno(errno('ENOENT'))?.reason).toBe('not-found');
    expect(refusalForErrno(errno('ENOTDIR'))?.reason).toBe('not-found');
    expect(refusalForErrno(errno('EACCES'))?.reason).toBe('permission-denied');
    expect(refusalForErrno(errno('EPERM'))?.reason).toBe('permission-denied');
    expect(refusalForErrno(errno('ELOOP'))).toMatchObject({ reason: 'symlink-loop', errno: 'ELOOP' });
    expect(refusalForErrno(errno('ENAMETOOLONG'))?.reason).toBe('too-long');
    expect(refusalForErrno(errno('EIO'))).toBeUndefined();
    expect(refusalForErrno(errno('EMFILE'))).toBeUndefined();
  });
});

describe('FileRoot.lexical', () => {
  const root = FileRoot.atRealPath('/srv/root');

  it('joins plain names under the root', () => {
    expect(root.lexical([])).toBe('/srv/root');
    expect(root.lexical(['a', 'b c', '你好'])).toBe('/srv/root/a/b c/你好');
  });

  it('never names a place outside the root, whatever the segments (property)', () => {
    const piece = fc.oneof(fc.constantFrom('', '.', '..', '/', '\u0000', 'a', 'b/..', '../..', '\\..', '%2e%2e', '\n'), fc.string({ unit: 'binary', maxLength: 12 }));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (segments) => {
        let path: string;
        try {
          path = root.lexical(segments);
        } catch (error) {
          expect(error).toBeInstanceOf(FileRootRefusal);
          return;
        }
        const rel = relative('/srv/root', path);
        expect(rel.startsWith('..') || isAbsolute(rel)).toBe(false);
        expect(normalize(path)).toBe(path);
        expect(rel.split('/').filter((s) => s !== '').length).toBe(segments.length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('FileRoot on disk', () => {
  let base: string;
  let rootPath: string;
  let outside: string;
  let root: FileRoot;

  beforeAll(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'wharf-file-root-')));
    rootPath = join(base, 'root');
    outside = join(base, 'root-outside'); // shares the root's name as a prefix on purpose
    mkdirSync(join(rootPath, 'sub'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'secret');
    writeFileSync(join(rootPath, 'file.txt'), 'file');
    writeFileSync(join(rootPath, 'sub', 'inner.txt'), 'inner');
    symlinkSync(join(rootPath, 'sub'), join(rootPath, 'link-in'));
    symlinkSync(outside, join(rootPath, 'link-out'));
    symlinkSync(join(outside, 'secret'), join(rootPath, 'secret'));
    symlinkSync(join(rootPath, 'nowhere'), join(rootPath, 'dangling'));
    symlinkSync('../../root-outside/secret', join(rootPath, 'sub', 'relative-out'));
    symlinkSync('loop', join(rootPath, 'loop'));
    root = await FileRoot.open(rootPath);
  });

  afterAll(() => {
    rmSync(base, { recursive: true, force: true });
  });

  it('pins the realpath, making the folder when asked', async () => {
    const made = await FileRoot.open(join(base, 'made', 'deep'), { create: true });
    expect(made.path).toBe(join(base, 'made', 'deep'));
    const viaLink = await FileRoot.open(join(rootPath, 'link-in'));
    expect(viaLink.path).toBe(join(rootPath, 'sub'));
  });

  it('finds what is inside, following symlinks that stay inside', async () => {
    expect(await root.existing([])).toMatchObject({ real: rootPath });
    expect((await root.existing(['file.txt'])).stats.size).toBe(4);
    expect(await root.existing(['link-in', 'inner.txt'])).toMatchObject({ real: join(rootPath, 'sub', 'inner.txt') });
    expect((await root.folder(['link-in'])).real).toBe(join(rootPath, 'sub'));
  });

  it('refuses symlinks that lead out, however they are reached', async () => {
    expect(await outcome(root.existing(['secret']))).toBe('outside-root');
    expect(await outcome(root.existing(['link-out']))).toBe('outside-root');
    expect(await outcome(root.existing(['link-out', 'secret']))).toBe('outside-root');
    expect(await outcome(root.existing(['sub', 'relative-out']))).toBe('outside-root');
    expect(await outcome(root.existing(['link-in', 'relative-out']))).toBe('outside-root');
    expect(await outcome(root.openFile(['secret']))).toBe('outside-root');
    expect(await outcome(root.creatable(['link-out', 'new']))).toBe('outside-root');
    expect(await outcome(root.list(outside))).toBe('outside-root');
    expect(await outcome(root.openReal(join(outside, 'secret')))).toBe('outside-root');
  });

  it('says what is wrong with a path that stays inside', async () => {
    expect(await outcome(root.existing(['missing']))).toBe('not-found');
    expect(await outcome(root.existing(['file.txt', 'below']))).toBe('not-found');
    expect(await outcome(root.existing(['dangling']))).toBe('not-found');
    expect(await outcome(root.existing(['loop']))).toBe('symlink-loop');
    expect(await outcome(root.creatable(['loop', 'x']))).toBe('symlink-loop');
    expect(await outcome(root.existing(['..']))).toBe('bad-name');
    expect(await outcome(root.existing(['x'.repeat(300)]))).toBe('too-long');
    expect(await outcome(root.folder(['file.txt']))).toBe('not-a-directory');
    expect(await outcome(root.openFile(['sub']))).toBe('is-a-directory');
    expect(await outcome(root.openFile(['missing']))).toBe('not-found');
  });

  it('gives a place for a new entry only under a folder inside, never over a symlink', async () => {
    expect(await root.creatable(['new.txt'])).toEqual({ parent: rootPath, name: 'new.txt', real: join(rootPath, 'new.txt'), existing: undefined });
    expect((await root.creatable(['link-in', 'new.txt'])).real).toBe(join(rootPath, 'sub', 'new.txt'));
    expect((await root.creatable(['file.txt'])).existing?.isFile()).toBe(true);
    expect(await outcome(root.creatable([]))).toBe('root-itself');
    expect(await outcome(root.creatable(['secret']))).toBe('symlink');
    expect(await outcome(root.creatable(['link-in']))).toBe('symlink');
    expect(await outcome(root.creatable(['dangling']))).toBe('symlink');
    expect(await outcome(root.creatable(['file.txt', 'x']))).toBe('not-a-directory');
    expect(await outcome(root.creatable(['missing', 'x']))).toBe('not-found');
  });

  it('opens regular files only, and never hangs on a FIFO', async () => {
    const opened = await root.openFile(['link-in', 'inner.txt']);
    try {
      expect(opened.stats.size).toBe(5);
      expect(opened.real).toBe(join(rootPath, 'sub', 'inner.txt'));
    } finally {
      await opened.handle.close();
    }
    try {
      execFileSync('mkfifo', [join(rootPath, 'fifo')]);
    } catch {
      return; // no mkfifo here
    }
    try {
      expect(await outcome(root.openFile(['fifo']))).toBe('not-a-file');
    } finally {
      rmSync(join(rootPath, 'fifo'));
    }
  });

  it('does not follow a file swapped for a symlink after it was resolved', async () => {
    writeFileSync(join(rootPath, 'swap.txt'), 'innocent');
    const real = await root.realpath(['swap.txt']);
    rmSync(real);
    symlinkSync(join(outside, 'secret'), real);
    try {
      expect(await outcome(root.openReal(real))).toBe('symlink');
    } finally {
      rmSync(real);
    }
  });

  it.runIf(process.platform === 'linux')('refuses what was opened through a folder swapped for a symlink after it was resolved', async () => {
    mkdirSync(join(rootPath, 'race'));
    writeFileSync(join(rootPath, 'race', 'secret'), 'inside');
    const real = await root.realpath(['race', 'secret']);
    renameSync(join(rootPath, 'race'), join(base, 'race-moved'));
    symlinkSync(outside, join(rootPath, 'race'));
    try {
      expect(await outcome(root.openReal(real))).toBe('outside-root');
    } finally {
      rmSync(join(rootPath, 'race'));
    }
    const handle = await open(join(outside, 'secret'), 'r');
    try {
      expect(await outcome(root.confirmInside(handle))).toBe('outside-root');
    } finally {
      await handle.close();
    }
  });

  it('lists files and folders, leaving out hidden names and links that lead out or nowhere', async () => {
    const names = (await root.list(rootPath, { hidden: (name) => name.startsWith('f') })).map((e) => e.name).sort();
    expect(names).toEqual(['link-in', 'sub']);
    const linkIn = (await root.list(rootPath)).find((e) => e.name === 'link-in');
    expect(linkIn?.stats.isDirectory()).toBe(true);
    expect((await root.list(join(rootPath, 'sub'))).map((e) => e.name).sort()).toEqual(['inner.txt']);
    expect((await root.list(rootPath, { limit: 1 })).length).toBeLessThanOrEqual(1);
    expect(await outcome(root.list(join(rootPath, 'missing')))).toBe('not-found');
  });

  it('never resolves a generated path to a place outside the root (property, on disk)', async () => {
    const names = fc.constantFrom('', '.', '..', 'sub', 'link-in', 'link-out', 'secret', 'relative-out', 'dangling', 'loop', 'file.txt', 'inner.txt', 'root-outside', 'a/..', '\u0000');
    await fc.assert(
      fc.asyncProperty(fc.array(names, { maxLength: 6 }), async (segments) => {
        const attempts = [() => root.existing(segments).then((e) => e.real), () => root.creatable(segments).then((e) => e.parent)];
        for (const attempt of attempts) {
          let real: string;
          try {
            real = await attempt();
          } catch (error) {
            expect(error).toBeInstanceOf(FileRootRefusal);
            continue;
          }
          expect(isInsideRoot(rootPath, real)).toBe(true);
          expect(isInsideRoot(outside, real)).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });
});
