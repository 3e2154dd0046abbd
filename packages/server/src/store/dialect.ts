/**
 * Everything that differs between SQLite and PostgreSQL, as named capabilities,
 * so queries and migrations never test which database they run on.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from "kysely";

export interface StoreDialect {
  readonly kind: "sqlite" | "postgres";
  /** Column type for ciphertext. */
  readonly binaryType: "blob" | "bytea";
  /** Makes a text column compare and sort byte by byte, so names page identically on both databases. */
  bytewise(column: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /** Runs `fn` while holding a lock shared by every node on this store (migrations, bootstrap). */
  withStoreLock<DB, T>(db: Kysely<DB>, fn: (db: Kysely<DB>) => Promise<T>): Promise<T>;
  /** Inside a transaction: waits until no other node's transaction holds the same `key`, until commit. */
  lockUntilCommit(trx: Kysely<any>, key: number): Promise<void>;
}

export const sqliteDialect: StoreDialect = {
  kind: "sqlite",
  binaryType: "blob",
  bytewise: (column) => column, // BINARY is SQLite's default collation
  // One process owns an embedded store, and Kysely's SQLite driver runs one
  // connection at a time; there is no other node to exclude.
  withStoreLock: (db, fn) => fn(db),
  lockUntilCommit: async () => {},
};

const STORE_LOCK_KEY = 0x436f6666; // "Coff"

export const postgresDialect: StoreDialect = {
  kind: "postgres",
  binaryType: "bytea",
  bytewise: (column) => column.modifyEnd(sql`collate "C"`),
  withStoreLock: (db, fn) =>
    db.connection().execute(async (connection) => {
      await sql`select pg_advisory_lock(${STORE_LOCK_KEY})`.execute(connection);
      try {
        return await fn(connection);
      } finally {
        await sql`select pg_advisory_unlock(${STORE_LOCK_KEY})`.execute(connection);
      }
    }),
  lockUntilCommit: async (trx, key) => {
    await sql`select pg_advisory_xact_lock(${key})`.execute(trx);
  },
};
