/**
 * Moving an embedded SQLite store into PostgreSQL, for a team that outgrows
 * one node. Offline: the server on the SQLite store must be stopped (its
 * writes after the copy began would not be copied).
 *
 * 1. Both stores are migrated to this Coffer's latest schema, so their
 *    tables and columns are the same.
 * 2. The target must hold no rows, unless `replace` says to empty it.
 * 3. Every row is copied as stored, in one transaction on the target, from
 *    one consistent read of the source (store/snapshot.ts, the same reader a
 *    backup uses). Ciphertexts and the wrapped keyring are bytes like any
 *    other: nothing is decrypted, so the root key (file, COFFER_ROOT_KEY or
 *    Shamir shares) is not needed here, and every node started on the target
 *    needs the same one the SQLite server used.
 * 4. Verify: each table's row count on the target equals the source's, and
 *    the audit log's hash chain verifies on the target and ends at the head
 *    the source recorded.
 */
import { AuditLog, type VerifyResult } from "../audit/audit.service.ts";
import { readHead } from "../audit/audit.repository.ts";
import type { AuditAppender } from "../audit/audit-append.ts";
import { describeTables, kyselyQuery, quoteIdentifier } from "../store/catalog.ts";
import { loadInOneTransaction, storeState } from "../store/load.ts";
import { openStore, type Store } from "../store/store.ts";

export interface MigrateStoreOptions {
  /** The data directory holding the SQLite store (coffer.db). */
  dataDir: string;
  /** The PostgreSQL URL to move it to. */
  to: string;
  /** Empty a target that already holds rows instead of refusing it. */
  replace?: boolean;
  onProgress?: (progress: MigrateProgress) => void;
}

export type MigrateProgress =
  | { step: "copy"; table: string; tablesDone: number; tables: number; rowsDone: number; rows: number }
  | { step: "verify"; table: string; rows: number };

export interface MigrateReport {
  tables: { name: string; rows: number }[];
  rows: number;
  audit: VerifyResult;
  /** The target without its password. */
  location: string;
}

export class MigrateError extends Error {
  override name = "MigrateError";
}

/** Verify only reads: appending is never called. */
const NO_APPENDS: AuditAppender = async () => {
  throw new MigrateError("the audit log is read-only during a migration");
};

export async function migrateStore(options: MigrateStoreOptions): Promise<MigrateReport> {
  if (!/^postgres(ql)?:\/\//.test(options.to)) throw new MigrateError("--to takes a PostgreSQL URL (postgres://user@host:5432/db)");
  const source = await openStore({ dataDir: options.dataDir });
  try {
    if (source.dialect.kind !== "sqlite") throw new MigrateError("the source must be an embedded SQLite store");
    const sourceState = await storeState(source);
    if (sourceState.tablesWithRows.length === 0) throw new MigrateError(`the SQLite store in ${options.dataDir} is empty: nothing to migrate`);
    const target = await openStore({ dataDir: options.dataDir, databaseUrl: options.to });
    try {
      const targetState = await storeState(target);
      if (targetState.tablesWithRows.length > 0 && !options.replace) {
        throw new MigrateError(`the target database is not empty (rows in ${targetState.tablesWithRows.join(", ")}): give an empty database, or --replace to delete what it holds`);
      }
      return await copyAndVerify(source, target, options);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

async function copyAndVerify(source: Store, target: Store, options: MigrateStoreOptions): Promise<MigrateReport> {
  const snapshot = await source.snapshot();
  const report = options.onProgress ?? (() => {});
  const tables = snapshot.tables.map((table) => ({ name: table.name, rows: table.rows }));
  const rows = tables.reduce((sum, table) => sum + table.rows, 0);
  try {
    await loadInOneTransaction(target, async (loader) => {
      // Children first, so no foreign key refuses a delete; inside the load's transaction, so a failure keeps the old rows.
      const query = kyselyQuery(loader.db);
      for (const table of (await describeTables(target.dialect, query)).reverse()) await query(`delete from ${quoteIdentifier(table.name)}`);
      let rowsDone = 0;
      for (const [i, table] of snapshot.tables.entries()) {
        const writer = await loader.table(table.name, table.columns, table.binary);
        report({ step: "copy", table: table.name, tablesDone: i, tables: tables.length, rowsDone, rows });
        for await (const batch of snapshot.rows(table)) {
          await writer.insert(batch);
          rowsDone += batch.length;
          report({ step: "copy", table: table.name, tablesDone: i, tables: tables.length, rowsDone, rows });
        }
      }
    });
  } finally {
    await snapshot.close();
  }

  const query = kyselyQuery(target.db);
  for (const table of tables) {
    const [row] = await query(`select count(*) as n from ${quoteIdentifier(table.name)}`);
    const copied = Number(row?.n);
    report({ step: "verify", table: table.name, rows: copied });
    if (copied !== table.rows) throw new MigrateError(`verify: table ${table.name} has ${table.rows} rows in SQLite but ${copied} in PostgreSQL`);
  }
  const [sourceHead, targetHead] = await Promise.all([readHead(source.db), readHead(target.db)]);
  if (JSON.stringify(sourceHead) !== JSON.stringify(targetHead)) throw new MigrateError("verify: the audit log's recorded head differs between SQLite and PostgreSQL");
  const audit = await new AuditLog(target, NO_APPENDS).verify();
  if (!audit.ok) throw new MigrateError(`verify: the audit chain does not verify on PostgreSQL: ${audit.problem?.reason ?? "unknown problem"}`);
  return { tables, rows, audit, location: target.location };
}
