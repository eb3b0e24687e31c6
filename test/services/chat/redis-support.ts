/**
 * The Redis the chat's Redis tests share (127.0.0.1:6379, or WHARF_TEST_REDIS_URL). Each test
 * takes a key prefix of its own, so parallel runs never see each other's rooms, and deletes its
 * keys afterwards. When no Redis answers, the tests skip with the reason (CI starts one).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createClient } from 'redis';
import { afterAll } from 'vitest';

export const REDIS_URL = process.env.WHARF_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

type Client = ReturnType<typeof createClient>;

/** Undefined when Redis answers, else why the tests skip. */
export async function redisSkipReason(): Promise<string | undefined> {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    await client.close();
    return undefined;
  } catch (error) {
    client.destroy();
    const reason = `no Redis at ${REDIS_URL}: ${error instanceof Error ? error.message : String(error)}`;
    if (process.env.CI === 'true') throw new Error(`${reason}, but CI must start one (.ci/run)`);
    return reason;
  }
}

export function uniquePrefix(): string {
  return `wharf-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** A plain client for the test itself (inspecting keys, killing a node's connections). */
export async function testRedis(): Promise<Client> {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Delete every key under `prefix`. */
export async function deletePrefix(client: Client, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...batch);
  if (keys.length > 0) await client.del(keys);
}

/** Cut every connection the chat nodes under `prefix` hold to Redis (they reconnect by themselves). */
export async function killConnections(client: Client, prefix: string): Promise<number> {
  const list = await client.sendCommand<string>(['CLIENT', 'LIST']);
  const ids = String(list)
    .split('\n')
    .filter((line) => line.includes(` name=wharf-chat:${prefix}:`))
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  for (const id of ids) await client.sendCommand(['CLIENT', 'KILL', 'ID', id]);
  return ids.length;
}

/** The nodes that hold the members under `prefix`, by name. */
export async function nodesOfMembers(client: Client, prefix: string): Promise<Map<string, string>> {
  const all = await client.hGetAll(`${prefix}names`);
  return new Map(Object.values(all).map((raw) => {
    const info = JSON.parse(raw) as { name: string; node: string };
    return [info.name, info.node];
  }));
}

/**
 * A TCP proxy to the test Redis on a port of its own: `cut()` closes every connection through it
 * and refuses new ones until `refusing` is false again; `swallowing` drops Redis's answers (a
 * command that ran, whose answer was lost).
 */
export class RedisProxy {
  refusing = false;
  swallowing = false;
  /** Bytes the clients sent to Redis through the proxy. */
  bytesToRedis = 0;
  readonly sockets = new Set<net.Socket>();
  readonly server = net.createServer((client) => {
    if (this.refusing) return void client.destroy();
    const target = new URL(REDIS_URL);
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => (this.bytesToRedis += chunk.length));
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!this.swallowing) client.write(chunk);
    });
  });

  static async start(): Promise<RedisProxy> {
    const proxy = new RedisProxy();
    await proxy.listen();
    return proxy;
  }

  /** Listen (again, after close(), on the same port when given); the URL that reaches Redis through it. */
  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  cut(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.refusing = false;
  }

  close(): void {
    if (this.server.listening) this.server.close();
    for (const socket of this.sockets) socket.destroy();
  }
}

/**
 * For a test file of its own: why it skips (undefined when Redis answers), a plain client for the
 * test (undefined when skipping), and a key prefix whose keys are deleted after the file.
 */
export async function redisTestFile(): Promise<{ skip: string | undefined; redis: Client | undefined; prefix: string }> {
  const skip = await redisSkipReason();
  const redis = skip ? undefined : await testRedis();
  const prefix = uniquePrefix();
  afterAll(async () => {
    if (redis) {
      await deletePrefix(redis, prefix);
      await redis.close();
    }
  });
  return { skip, redis, prefix };
}
