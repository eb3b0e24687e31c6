/**
 * The fuzz harness: batches of mutated messages to a live server, then a check that it still
 * serves a well-behaved client, logged no stack trace, and kept its memory within a bound.
 *
 * Budget and replay come from the environment (docs/fuzzing.md):
 *   FUZZ_SECONDS     time per target (default 2: the short run inside `npm test`)
 *   FUZZ_RUNS        at most this many batches per target (default: as many as the time allows)
 *   FUZZ_SEED        the fast-check seed (default: fixed in the short run, random in a long one)
 *   FUZZ_PATH        with FUZZ_SEED, replay only the failing batch fast-check reported
 *   FUZZ_MEMORY_MIB  the memory bound (default 64)
 *   FUZZ_TARGET      run only the targets whose name contains this text
 *   FUZZ_VERBOSE     print each batch: its time to deliver, the health check's time, its sizes
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import fc from 'fast-check';
import { pino, type Logger } from 'pino';
import { ServiceHost } from '../../src/core/host.js';
import type { RunningService, ServiceDefinition } from '../../src/core/service.js';
import { fuzzCaseArbitrary, materialise, type FuzzCase } from './mutate.js';

export interface FuzzTarget {
  /** What the report calls it: `dict`, `chat udp`. */
  name: string;
  /** Valid messages (for a stream: a whole session's bytes) that mutations start from. */
  seeds: Buffer[];
  /** Largest message this transport can carry (65,507 for UDP). */
  maxMessageBytes?: number;
  /** Messages per batch (default 12). */
  batchSize?: number;
  /** Send one batch to the server and wait until it has dealt with it. */
  deliver(messages: Buffer[]): Promise<void>;
  /** A well-behaved client's exchange; throws unless the answer is right. */
  healthy(): Promise<void>;
}

export interface FuzzReport {
  target: string;
  seed: number;
  batches: number;
  messages: number;
  bytes: number;
  /** Growth of heap + external memory after a full GC, from after the first batch to the end. */
  memoryGrowthMiB: number;
  rssMiB: number;
}

const env = process.env;
export const FUZZ_SECONDS = Number(env.FUZZ_SECONDS ?? 2);
const LONG_RUN = env.FUZZ_SECONDS !== undefined;
/** The short run in `npm test` uses a fixed seed, so that a failure there is the same failure on every machine. */
const SHORT_RUN_SEED = 0x5eed;
export const MEMORY_BOUND_MIB = Number(env.FUZZ_MEMORY_MIB ?? 64);
/** How long the well-behaved client waits for its answer before the server counts as hung. */
export const HEALTH_TIMEOUT_MS = 5_000;

/** Vitest's timeout for one target: its budget, plus room for server start-up and a failing health check. */
export const testTimeoutMs = (): number => FUZZ_SECONDS * 1_000 + 30_000;

/** Is this target selected by FUZZ_TARGET? */
export const selected = (name: string): boolean => env.FUZZ_TARGET === undefined || name.includes(env.FUZZ_TARGET);

/**
 * A logger for the server under test that keeps what the fuzzer must never cause: an error
 * level line (the core logs a handler's unexpected exception there) or any stack trace.
 */
export class LogWatch {
  readonly problems: string[] = [];
  readonly logger: Logger;

  constructor() {
    this.logger = pino({ level: 'warn' }, { write: (line: string) => this.#check(line) });
  }

  #check(line: string): void {
    const entry = JSON.parse(line) as { level: number };
    if (entry.level >= 50 || line.includes('"stack"')) this.problems.push(line.trim());
  }
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Heap and external (Buffer) memory still reachable after a full collection, in MiB. */
export function liveMemoryMiB(): number {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.external) / 2 ** 20;
}

/** Short, readable form of a message for a failure report: latin1 text with escapes, cut at 300 bytes. */
export function describeMessage(message: Buffer): string {
  const head = JSON.stringify(message.subarray(0, 300).toString('latin1'));
  return message.length > 300 ? `${head}… (${message.length} bytes)` : head;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Fuzz one target for FUZZ_SECONDS (or FUZZ_RUNS batches): each fast-check run is one batch of
 * mutated messages followed by the health check. Throws with fast-check's report (seed and
 * path to replay) and the batch's messages on the first failure; shrinking is off, since a
 * server the fuzzer damaged would make every smaller batch fail too.
 */
export async function fuzz(target: FuzzTarget, logs: LogWatch): Promise<FuzzReport> {
  const seed = env.FUZZ_SEED !== undefined ? Number(env.FUZZ_SEED) : LONG_RUN ? Math.floor(Math.random() * 2 ** 31) : SHORT_RUN_SEED;
  const counts = { batches: 0, messages: 0, bytes: 0 };
  let baselineMiB: number | undefined;
  const batchSize = target.batchSize ?? 12;
  const property = fc.asyncProperty(fc.array(fuzzCaseArbitrary, { minLength: 1, maxLength: batchSize }), async (cases: FuzzCase[]) => {
    const messages = cases.map((c) => materialise(c, target.seeds, target.maxMessageBytes));
    try {
      const started = Date.now();
      await target.deliver(messages);
      const delivered = Date.now();
      await withTimeout(target.healthy(), HEALTH_TIMEOUT_MS, `${target.name}: the well-behaved client`);
      if (env.FUZZ_VERBOSE) console.log(`${target.name} batch ${counts.batches}: delivered in ${delivered - started} ms, healthy in ${Date.now() - delivered} ms, sizes ${messages.map((m) => m.length).join(' ')}`);
      if (logs.problems.length > 0) throw new Error(`the server logged:\n${logs.problems.slice(0, 3).join('\n')}`);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nbatch:\n${messages.map(describeMessage).join('\n')}`, { cause: error });
    }
    counts.batches++;
    counts.messages += messages.length;
    counts.bytes += messages.reduce((sum, m) => sum + m.length, 0);
    // The first batch warms up the server (caches, lazy tables): memory counts from after it.
    baselineMiB ??= liveMemoryMiB();
  });
  const details = await fc.check(property, {
    seed,
    ...(env.FUZZ_PATH !== undefined ? { path: env.FUZZ_PATH } : {}),
    numRuns: env.FUZZ_RUNS !== undefined ? Number(env.FUZZ_RUNS) : Number.MAX_SAFE_INTEGER,
    endOnFailure: true,
    plugins: [fc.interruptAfterTimeLimit(FUZZ_SECONDS * 1_000)],
  });
  if (details.failed && details.counterexample !== null) {
    throw new Error(`fuzz ${target.name} failed (replay: FUZZ_TARGET='${target.name}' FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath})\n${(details.errorInstance as Error).message}`);
  }
  if (counts.batches === 0) throw new Error(`fuzz ${target.name}: no batch finished within ${FUZZ_SECONDS} s`);
  const memoryGrowthMiB = liveMemoryMiB() - (baselineMiB ?? 0);
  if (memoryGrowthMiB > MEMORY_BOUND_MIB) throw new Error(`fuzz ${target.name}: memory grew ${memoryGrowthMiB.toFixed(1)} MiB, over the ${MEMORY_BOUND_MIB} MiB bound (seed ${seed})`);
  const report: FuzzReport = { target: target.name, seed, ...counts, memoryGrowthMiB, rssMiB: process.memoryUsage().rss / 2 ** 20 };
  console.log(
    `fuzz ${report.target}: ${report.batches} batches, ${report.messages} messages, ${(report.bytes / 2 ** 20).toFixed(1)} MiB sent, seed ${seed}; ` +
      `memory growth ${memoryGrowthMiB.toFixed(1)} MiB (bound ${MEMORY_BOUND_MIB}), rss ${report.rssMiB.toFixed(0)} MiB`,
  );
  return report;
}

export interface HostedService {
  host: ServiceHost;
  service: RunningService;
  /** The port of the first address on this transport. */
  port(transport: 'tcp' | 'udp'): number;
}

/** Start a service through its definition, as `wharf serve` does, on 127.0.0.1 port 0, logging to `logs`. */
export async function startHosted<C>(definition: ServiceDefinition<C>, config: C, logs: LogWatch, options: { dataDir?: string; resources?: Record<string, unknown> } = {}): Promise<HostedService> {
  const host = new ServiceHost({ logger: logs.logger, dataDir: options.dataDir ?? mkdtempSync(join(tmpdir(), 'wharf-fuzz-')), resources: options.resources ?? {} });
  const service = await host.start(definition, config);
  return {
    host,
    service,
    port(transport) {
      const address = service.addresses.find((a) => a.transport === transport);
      if (!address) throw new Error(`${definition.name} does not listen on ${transport}`);
      return address.port;
    },
  };
}
