/**
 * After a crash: a server killed mid-upload leaves the upload's working file behind
 * (`.wharf-upload.<pid>.<unique>.<name>`), and the quota it had reserved ahead of the bytes is never
 * given back. `recoverHome` walks a home before a login is answered: the working file of a writer
 * that is gone becomes the partial that SIZE, REST and APPE resume (or is removed, when it holds
 * nothing or a larger partial of the same file is there), and the bytes on disk are counted, so the
 * quota can be set from them. See docs/ftp.md, "After a crash".
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { INTERNAL_PREFIX, partialForWorkingName } from './protocol/paths.js';

export interface HomeRecovery {
  /** Bytes of every plain file in the home once recovered (partials included: they are on disk). */
  bytesOnDisk: number;
  /** Working files of dead uploads that became partials. */
  kept: number;
  /** Working files removed: empty, superseded by a larger partial, or of an unknown (older) form. */
  removed: number;
}

/** Is the upload writing this working file still running? (another live process, or an upload of this one) */
export type WriterAlive = (pid: number, path: string) => boolean;

/** The default test: this process knows its own uploads; another process is alive if it exists. */
export function writerAliveCheck(ownWorkingFiles: ReadonlySet<string>): WriterAlive {
  return (pid, path) => {
    if (pid === process.pid) return ownWorkingFiles.has(path);
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      // ESRCH: gone. EPERM: a process of another user has that id now, so not our writer either.
      return false;
    }
  };
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const stats = await lstat(path);
    return stats.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}

/** Recover one folder's dead working files; returns the plain files' sizes afterwards, by name. */
async function recoverFolder(folder: string, files: Dirent[], alive: WriterAlive, result: HomeRecovery): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (let i = 0; i < files.length; i += 64) {
    const batch = files.slice(i, i + 64);
    const found = await Promise.all(batch.map((f) => sizeOf(join(folder, f.name))));
    batch.forEach((f, j) => {
      const size = found[j];
      if (size !== undefined) sizes.set(f.name, size);
    });
  }
  for (const [name, size] of [...sizes]) {
    if (!name.startsWith(`${INTERNAL_PREFIX}upload.`)) continue;
    const path = join(folder, name);
    const parsed = partialForWorkingName(name);
    if (parsed && alive(parsed.pid, path)) continue;
    const partialSize = parsed ? sizes.get(parsed.partial) : undefined;
    try {
      if (!parsed || size === 0 || (partialSize !== undefined && partialSize >= size)) {
        await unlink(path);
        result.removed++;
      } else {
        await rename(path, join(folder, parsed.partial));
        sizes.set(parsed.partial, size);
        result.kept++;
      }
      sizes.delete(name);
    } catch {
      // Gone meanwhile (its upload finished or was cleaned up by its own session): counted as it is now.
      const now = await sizeOf(path);
      if (now === undefined) sizes.delete(name);
      else sizes.set(name, now);
    }
  }
  return sizes;
}

/** Walk a home (symbolic links are not followed), recover dead uploads and count the bytes on disk. */
export async function recoverHome(root: string, alive: WriterAlive): Promise<HomeRecovery> {
  const result: HomeRecovery = { bytesOnDisk: 0, kept: 0, removed: 0 };
  const folders = [root];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) if (entry.isDirectory()) folders.push(join(folder, entry.name));
    const sizes = await recoverFolder(
      folder,
      entries.filter((e) => e.isFile()),
      alive,
      result,
    );
    for (const size of sizes.values()) result.bytesOnDisk += size;
  }
  return result;
}
