/**
 * A consistent read of the whole store while the server keeps writing, for
 * backups. Everything a snapshot returns comes from one point in time:
 *
 * - PostgreSQL: one `REPEATABLE READ READ ONLY` transaction on a connection
 *   of its own, rows fetched through a cursor a batch at a time;
 * - SQLite: one read transaction on a second, read-only connection to the
 *   file. WAL lets the server's connection keep committing meanwhile (the
 *   reader keeps seeing the state it started with), and node:sqlite being
 *   synchronous, rows are read a batch at a time with the event loop free
 *   in between.
 *
 * Values come out as JSON can carry them (bytes as Uint8Array for the
 * caller to encode), the same from both databases.
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { ClientConfig } from "pg";
import { appliedMigrations, describeTables, quoteIdentifier, type Query, type TableInfo } from "./catalog.ts";
import { postgresDialect, sqliteDialect, type StoreDialect } from "./dialect.ts";

/** Rows per batch: small enough to keep the event loop responsive, large enough to cost little per row. */
const BATCH_ROWS = 500;

export type Value = string | number | null | Uint8Array;

export interface Snapshot {
  dialect: StoreDialect["kind"];
  /** The applied migrations, in order: the schema the rows belong to. */
  migrations: string[];
  /** Every data table, parents first, with its row count. */
  tables: (TableInfo & { rows: number })[];
  /** The table's rows, each an array in `table.columns` order, a batch at a time. */
  rows(table: TableInfo): AsyncGenerator<Value[][]>;
  /** Ends the read transaction; idempotent. */
  close(): Promise<void>;
}

export async function sqliteSnapshot(path: string): Promise<Snapshot> {
  const database = new DatabaseSync(path, { readOnly: true });
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    if (database.isTransaction) database.exec("ROLLBACK");
    database.close();
  };
  try {
    database.exec("PRAGMA busy_timeout = 5000");
    database.exec("BEGIN");
    const query: Query = async (text, parameters = []) => database.prepare(text).all(...(parameters as SQLInputValue[])) as Record<string, unknown>[];
    // The first read starts the transaction's snapshot; everything below sees that one state.
    const described = await describe(sqliteDialect, query);
    return {
      dialect: "sqlite",
      ...described,
      rows: async function* (table) {
        const statement = database.prepare(`select ${columnList(table)} from ${quoteIdentifier(table.name)}`);
        statement.setReturnArrays(true);
        let batch: Value[][] = [];
        for (const row of statement.iterate() as Iterable<unknown[]>) {
          batch.push(row.map(portable));
          if (batch.length === BATCH_ROWS) {
            yield batch;
            batch = [];
            await yieldToEventLoop();
          }
        }
        if (batch.length > 0) yield batch;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export async function postgresSnapshot(config: ClientConfig): Promise<Snapshot> {
  const { default: pg } = await import("pg");
  const client = new pg.Client(config);
  await client.connect();
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    await client.query("rollback").catch(() => {});
    await client.end();
  };
  try {
    await client.query("begin isolation level repeatable read read only");
    const query: Query = async (text, parameters = []) => (await client.query(text, parameters)).rows as Record<string, unknown>[];
    const described = await describe(postgresDialect, query);
    return {
      dialect: "postgres",
      ...described,
      rows: async function* (table) {
        await client.query(`declare coffer_backup no scroll cursor for select ${columnList(table)} from ${quoteIdentifier(table.name)}`);
        try {
          for (;;) {
            const { rows } = await client.query<unknown[]>({ text: `fetch forward ${BATCH_ROWS} from coffer_backup`, rowMode: "array" });
            if (rows.length === 0) break;
            yield rows.map((row) => row.map(portable));
          }
        } finally {
          if (open) await client.query("close coffer_backup");
        }
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function describe(dialect: StoreDialect, query: Query): Promise<Pick<Snapshot, "migrations" | "tables">> {
  const migrations = await appliedMigrations(dialect, query);
  const tables = [];
  for (const table of await describeTables(dialect, query)) {
    const [row] = await query(`select count(*) as count from ${quoteIdentifier(table.name)}`);
    tables.push({ ...table, rows: Number(row?.count ?? 0) });
  }
  return { migrations, tables };
}

function columnList(table: TableInfo): string {
  return table.columns.map(quoteIdentifier).join(", ");
}

/**
 * One representation for both databases: integers as numbers (the schema
 * keeps times and flags well inside Number's exact range), a boolean as 0/1
 * (Coffer's flags are integers; both databases accept 0/1 for either), a
 * timestamp as ISO text, JSON as its text.
 */
function portable(value: unknown): Value {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number" || value instanceof Uint8Array) return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError("an integer in the store is beyond what a backup carries exactly");
    return Number(value);
  }
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}
