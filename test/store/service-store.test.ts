import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { serviceContext } from '../../src/core/service.js';
import { openStore, requireStore, storeOf, type Store } from '../../src/store/index.js';

describe('storeOf and requireStore', () => {
  let dataDir: string;
  let store: Store;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'wharf-service-store-'));
    store = await openStore({ dataDir });
  });
  afterAll(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const context = (resources: Record<string, unknown>) => serviceContext({ name: 'ftp', logger: silentLogger(), dataDir: tmpdir(), resources });

  it('give the store the host opened', () => {
    expect(storeOf(context({ store }))).toBe(store);
    expect(requireStore(context({ store }), 'ftp')).toBe(store);
  });

  it('say there is none when the host opened none; requireStore says which service needs it', () => {
    expect(storeOf(context({}))).toBeUndefined();
    expect(() => requireStore(context({}), 'ftp')).toThrow(expect.objectContaining({ code: 'ESTORE', message: expect.stringContaining('ftp needs the store') as unknown }));
  });

  it('refuse something else put where the store goes (the host’s bug, not a silent cast)', () => {
    expect(() => storeOf(context({ store: { accounts: {} } }))).toThrow(TypeError);
  });
});
