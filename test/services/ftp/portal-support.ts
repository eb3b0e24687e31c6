/** A files section (src/services/ftp/portal/section.ts) over real HTTP, with a real SQLite store and home. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/core/logger.js';
import { filesSection, type FilesSection } from '../../../src/services/ftp/portal/section.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { serveSection, type SectionServer } from '../../helpers/portal-section.js';

export interface FilesApi {
  server: SectionServer;
  files: FilesSection;
  store: Store;
  base: string;
  /** alice's home on disk. */
  home: string;
  /** A folder beside the homes, outside alice's. */
  outside: string;
  uploadLocks: Set<string>;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  json<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export async function startFilesApi(options: { quota?: number; maxChunkBytes?: number; expireMs?: number } = {}): Promise<FilesApi> {
  const base = await mkdtemp(join(tmpdir(), 'wharf-portal-files-'));
  const store = await openStore({ dataDir: base, accounts: { throttle: { baseDelayMs: 0, maxDelayMs: 0 } } });
  await store.accounts.add('alice', 'secret', options.quota !== undefined ? { quota: options.quota } : {});
  await store.accounts.add('bob', 'secret');
  const usersRoot = join(base, 'files', 'users');
  const home = join(usersRoot, 'alice');
  const outside = join(base, 'outside');
  await mkdir(home, { recursive: true });
  await mkdir(outside, { recursive: true });
  const uploadLocks = new Set<string>();
  const files = filesSection({ store, logger: silentLogger(), usersRoot, uploadLocks, maxChunkBytes: options.maxChunkBytes, expireMs: options.expireMs });
  const server = await serveSection(files.section, { name: 'alice', admin: false });
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.base}${path}`, {
      method,
      headers: body === undefined || body instanceof Uint8Array ? headers : { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
    });
  return {
    server,
    files,
    store,
    base,
    home,
    outside,
    uploadLocks,
    call,
    async json<T>(method: string, path: string, body?: unknown) {
      const response = await call(method, path, body);
      const text = await response.text();
      return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
    },
    async close() {
      files.close();
      await server.close();
      await store.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}
