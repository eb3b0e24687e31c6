import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceHost } from '../../../src/core/host.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { RunningService } from '../../../src/core/service.js';
import { ExecClient } from '../../../src/services/exec/client.js';
import { execConfigSchema, execService } from '../../../src/services/exec/server.js';
import { openStore, type Store } from '../../../src/store/index.js';

export interface ExecFixture {
  host: ServiceHost;
  store: Store;
  service: RunningService;
  port: number;
  stop(): Promise<void>;
}

/** A shell as the configuration's chosen program (an administrator's choice), to make process trees in tests. */
export const TEST_COMMANDS = {
  hello: { argv: ['echo', 'hello'], allow: ['alice'], seed: true },
  say: { argv: ['printf', '%s|', '{text:text}', '{word:word}'], allow: ['alice'], seed: true },
  lines: { argv: ['seq', '{n:int 1..1000}'], allow: ['@ops'] },
  quiet: { argv: ['true'], allow: ['alice'], seed: true },
  flood: { argv: ['head', '-c', '1073741824', '/dev/zero'], allow: ['alice'] },
  // Prints its process group (its own pid), starts a background child, and never ends.
  forever: { argv: ['sh', '-c', 'echo $$; sleep 300 & sleep 300'], allow: ['alice'] },
  slow: { argv: ['sh', '-c', 'echo one; sleep 0.3; echo two >&2; sleep 0.3; exit 3'], allow: ['alice'] },
  admin: { argv: ['echo', 'secret'] },
};

export async function startExec(overrides: Record<string, unknown> = {}): Promise<ExecFixture> {
  const store = await openStore({ dataDir: mkdtempSync(path.join(tmpdir(), 'wharf-exec-')), accounts: { registrationsPerIpPerHour: 1000 } });
  await store.accounts.add('alice', 'alice-password');
  await store.accounts.add('bob', 'bob-password');
  await store.accounts.add('root-admin', 'admin-password', { role: 'admin' });
  const host = new ServiceHost({ logger: silentLogger(), dataDir: tmpdir(), resources: { store } });
  const config = execConfigSchema.parse({ port: 0, commands: TEST_COMMANDS, groups: { ops: ['bob'] }, timeoutMs: 5_000, ...overrides });
  const service = await host.start(execService, config);
  return {
    host,
    store,
    service,
    port: service.addresses[0]!.port,
    async stop() {
      await host.stop(1_000);
      await store.close();
    },
  };
}

export async function loggedIn(port: number, user = 'alice', password = `${user}-password`): Promise<ExecClient> {
  const client = await ExecClient.connect({ host: '127.0.0.1', port });
  await client.login(user, password);
  return client;
}

export interface Collected {
  stdout: string;
  stderr: string;
}

export function collector(): Collected & { handlers: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void } } {
  const result = {
    stdout: '',
    stderr: '',
    handlers: {
      stdout: (chunk: Buffer) => void (result.stdout += chunk.toString()),
      stderr: (chunk: Buffer) => void (result.stderr += chunk.toString()),
    },
  };
  return result;
}

/**
 * Whether any process of the group still runs, from the process table (Linux /proc). A killed
 * process whose parent is gone stays a zombie until init reaps it: dead, so not counted.
 */
export function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so read after its closing parenthesis.
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(group) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}
