import type { ColumnType, Generated, Kysely } from 'kysely';
import type { Logger } from '../../core/logger.js';
import type { Store } from '../../store/index.js';
import type { ExitStatus, HistoryRow } from './protocol.js';

type BigIntRead = ColumnType<number | string | bigint, number, number>;

/** `exec_runs` (migration 0007_exec_runs). */
export interface ExecRunsTable {
  id: Generated<number>;
  started_at: BigIntRead;
  account: string | null;
  address: string;
  command: string;
  args: string;
  exit_code: number | null;
  signal: string | null;
  reason: string | null;
  duration_ms: BigIntRead;
  bytes_out: BigIntRead;
}

interface ExecSchema {
  exec_runs: ExecRunsTable;
}

export interface RunRecord {
  account: string | null;
  address: string;
  command: string;
  args: readonly string[];
  status: ExitStatus;
}

function describeEnd(status: ExitStatus): string {
  const how = status.code !== null ? `exit ${status.code}` : `killed by ${status.signal ?? 'a signal'}`;
  return status.reason !== undefined ? `${how} (${status.reason})` : how;
}

/** The one log line of a run; names and arguments come from the network, the log format escapes them. */
export function auditLine(record: RunRecord): string {
  const who = record.account ?? '(seed protocol)';
  const args = record.args.length > 0 ? ` ${JSON.stringify(record.args)}` : '';
  return `${who} ${record.address} ran ${record.command}${args}: ${describeEnd(record.status)} after ${record.status.durationMs} ms, ${record.status.bytesOut} bytes out`;
}

/** Every run, in the log (always) and in the store's `exec_runs` (the trail `wharf exec history` reads). */
export class AuditTrail {
  readonly #db: Kysely<ExecSchema>;
  readonly #logger: Logger;
  readonly #pending = new Set<Promise<void>>();

  constructor(store: Store, logger: Logger) {
    this.#db = store.db as unknown as Kysely<ExecSchema>;
    this.#logger = logger;
  }

  record(record: RunRecord, startedAt: number): void {
    this.#logger.info({ account: record.account, address: record.address, command: record.command, args: record.args, ...record.status }, auditLine(record));
    const write = this.#db
      .insertInto('exec_runs')
      .values({
        started_at: startedAt,
        account: record.account,
        address: record.address.slice(0, 64),
        command: record.command,
        args: JSON.stringify(record.args),
        exit_code: record.status.code,
        signal: record.status.signal,
        reason: record.status.reason ?? null,
        duration_ms: record.status.durationMs,
        bytes_out: record.status.bytesOut,
      })
      .execute()
      .then(
        () => undefined,
        (error: unknown) => this.#logger.error({ err: error }, `exec: the audit row of ${record.command} could not be stored (the log line above has it)`),
      );
    this.#pending.add(write);
    void write.finally(() => this.#pending.delete(write));
  }

  /** The newest runs first. */
  async recent(limit: number): Promise<HistoryRow[]> {
    const rows = await this.#db.selectFrom('exec_runs').selectAll().orderBy('id', 'desc').limit(limit).execute();
    return rows.map((row) => ({
      startedAt: Number(row.started_at),
      account: row.account,
      address: row.address,
      command: row.command,
      args: JSON.parse(row.args) as string[],
      code: row.exit_code,
      signal: row.signal,
      reason: row.reason,
      durationMs: Number(row.duration_ms),
      bytesOut: Number(row.bytes_out),
    }));
  }

  /** Wait for rows still being written (on stop, before the host closes the store). */
  async flush(): Promise<void> {
    await Promise.all(this.#pending);
  }
}
