import { sql, type Kysely } from 'kysely';
import type { StoreMigration } from './index.js';
import { byteExactVarchar, withIdColumn } from './columns.js';

/**
 * `exec_runs`: the audit trail of the exec service (issue 15): one row per command run, who ran
 * it from where, with what arguments, how it ended and how much it wrote. The service's row type
 * is `ExecRunsTable` in src/services/exec/audit.ts.
 */
export const execRunsMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    // Names compare byte for byte on MySQL too, as account names do (0001_accounts).
    const nameType = byteExactVarchar(dialect);
    // Arguments are at most 64 × 4 KiB as JSON: more than MySQL's TEXT (64 KiB) holds.
    const argsType = dialect === 'mysql' ? sql`mediumtext character set utf8mb4 collate utf8mb4_bin` : sql`text`;
    let table = db.schema.createTable('exec_runs');
    table = withIdColumn(table, dialect);
    table = table
      .addColumn('started_at', 'bigint', (column) => column.notNull())
      // Null for the seed protocol, which has no login.
      .addColumn('account', nameType)
      .addColumn('address', 'varchar(64)', (column) => column.notNull())
      .addColumn('command', 'varchar(64)', (column) => column.notNull())
      .addColumn('args', argsType, (column) => column.notNull())
      .addColumn('exit_code', 'integer')
      .addColumn('signal', 'varchar(16)')
      .addColumn('reason', 'varchar(32)')
      .addColumn('duration_ms', 'bigint', (column) => column.notNull())
      .addColumn('bytes_out', 'bigint', (column) => column.notNull());
    if (dialect === 'mysql') table = table.modifyEnd(sql`engine=InnoDB default charset=utf8mb4`);
    await table.execute();
    await db.schema.createIndex('exec_runs_started').on('exec_runs').column('started_at').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('exec_runs').execute();
  },
};
