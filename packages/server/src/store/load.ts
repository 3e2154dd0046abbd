/**
 * Writing a backup's rows into a store, for restores: all of them in one
 * transaction, so a restore that fails anywhere leaves the store as empty as
 * it found it. Tables and columns are checked against the store's own
 * catalog, so a backup can name nothing the schema does not have.
 */
import { sql, type RawBuilder, type Transaction } from "kysely";
import { appliedMigrations, catalogOf, describeTables, kyselyQuery, quoteIdentifier, type TableInfo } from "./catalog.ts";
import type { Value } from "./snapshot.ts";
import type { Database, Store } from "./store.ts";

/** Bind parameters per INSERT: far below both databases' limits, large enough to amortise a statement. */
const PARAMETERS_PER_INSERT = 900;

export interface TableLoader {
  /** Inserts rows given in the columns' order announced to `Loader.table`. */
  insert(rows: Value[][]): Promise<void>;
}

export interface Loader {
  /** Starts a table; its columns must be exactly the store's (in any order), bytes where the store keeps bytes. */
  table(name: string, columns: string[], binary: string[]): Promise<TableLoader>;
  /** The same transaction, to check what was loaded before it commits. */
  db: Database;
}

export class SchemaMismatchError extends Error {
  override name = "SchemaMismatchError";
}

/** What a restore needs to know of its target before touching it. */
export async function storeState(store: Store): Promise<{ migrations: string[]; tablesWithRows: string[] }> {
  const query = kyselyQuery(store.db);
  const tablesWithRows: string[] = [];
  for (const table of await describeTables(store.dialect, query)) {
    const [row] = await query(`select 1 as found from ${quoteIdentifier(table.name)} limit 1`);
    if (row) tablesWithRows.push(table.name);
  }
  return { migrations: await appliedMigrations(store.dialect, query), tablesWithRows };
}

/** Runs `fill` in one transaction; every table of the store must have been announced by the end. */
export async function loadInOneTransaction(store: Store, fill: (loader: Loader) => Promise<void>): Promise<void> {
  const catalog = catalogOf(store.dialect);
  await store.db.transaction().execute(async (trx) => {
    const query = kyselyQuery(trx);
    const tables = new Map((await describeTables(store.dialect, query)).map((table) => [table.name, table]));
    const announced = new Set<string>();
    await fill({
      db: trx,
      table: async (name, columns, binary) => {
        const table = tables.get(name);
        if (!table) throw new SchemaMismatchError(`the backup has a table '${name}' this store does not have`);
        if (announced.has(name)) throw new SchemaMismatchError(`the backup has table '${name}' twice`);
        checkColumns(table, columns, binary);
        announced.add(name);
        return { insert: (rows) => insertRows(trx, name, columns, rows, catalog.insertOverride) };
      },
    });
    const missing = [...tables.keys()].filter((name) => !announced.has(name));
    if (missing.length > 0) throw new SchemaMismatchError(`the backup does not cover table(s) ${missing.join(", ")} of this store`);
    await catalog.afterLoad(query, [...tables.values()]);
  });
}

function checkColumns(table: TableInfo, columns: string[], binary: string[]): void {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");
  if (!same(table.columns, columns) || new Set(columns).size !== columns.length) {
    throw new SchemaMismatchError(`table '${table.name}' has columns (${table.columns.join(", ")}) here but (${columns.join(", ")}) in the backup`);
  }
  if (!same(table.binary, binary)) {
    throw new SchemaMismatchError(`table '${table.name}' keeps bytes in (${table.binary.join(", ")}) here but in (${binary.join(", ")}) in the backup`);
  }
}

async function insertRows(trx: Transaction<any>, table: string, columns: string[], rows: Value[][], override: RawBuilder<unknown> | null): Promise<void> {
  const perStatement = Math.max(1, Math.floor(PARAMETERS_PER_INSERT / columns.length));
  const plain = trx.withoutPlugins();
  for (let start = 0; start < rows.length; start += perStatement) {
    const batch = rows.slice(start, start + perStatement);
    for (const row of batch) {
      if (row.length !== columns.length) throw new SchemaMismatchError(`a row of table '${table}' has ${row.length} values for ${columns.length} columns`);
    }
    await sql`insert into ${sql.table(table)} (${sql.join(columns.map((column) => sql.ref(column)))}) ${override ?? sql``} values ${sql.join(batch.map((row) => sql`(${sql.join(row)})`))}`.execute(plain);
  }
}
