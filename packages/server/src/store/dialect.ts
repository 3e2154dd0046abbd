/**
 * Everything that differs between SQLite and PostgreSQL, as named capabilities,
 * so queries and migrations never test which database they run on.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from "kysely";

export interface StoreDialect {
  readonly kind: "sqlite" | "postgres";
  /** Other server processes may write to this store: what a node cached may be changed under it. */
  readonly sharedByNodes: boolean;
  /** Statements without parameters may go to the database together, as one query: one round trip for several. */
  readonly chainsStatements: boolean;
  /**
   * Statements sent one after another on a connection, without waiting for
   * each answer, are answered in order (PostgreSQL's pipelining): writes may
   * run side by side in a group commit (group-commit.ts). SQLite runs each
   * statement as a call; there is no round trip to save.
   */
  readonly pipelinesStatements: boolean;
  /**
   * Statements that change rows may be common table expressions of one
   * statement (PostgreSQL's data-modifying WITH): several changes in one
   * round trip. SQLite has no such statement, and no round trip to save.
   */
  readonly changesInOneStatement: boolean;
  /** Column type for ciphertext. */
  readonly binaryType: "blob" | "bytea";
  /** Column type of a 64-bit integer primary key: on SQLite `integer`, which makes it the rowid, with no index of its own. */
  readonly rowKeyType: "integer" | "bigint";
  /** Makes a text column compare and sort byte by byte, so names page identically on both databases. */
  bytewise(column: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /**
   * Has a column's large values compressed with the fastest method the
   * database offers, where it compresses them at all (a migration).
   */
  compressQuickly(db: Kysely<any>, table: string, column: string): Promise<void>;
  /** Runs `fn` while holding a lock shared by every node on this store (migrations, bootstrap). */
  withStoreLock<DB, T>(db: Kysely<DB>, fn: (db: Kysely<DB>) => Promise<T>): Promise<T>;
  /** Inside a transaction: waits until no other node's transaction holds the same `key`, until commit. */
  lockUntilCommit(trx: Kysely<any>, key: number): Promise<void>;
  /**
   * Runs `fn` unless another node holds the lock of background job `job`
   * (then undefined, at once): background jobs run on one node at a time.
   */
  tryJobLock<DB, T>(db: Kysely<DB>, job: JobLock, fn: () => Promise<T>): Promise<T | undefined>;
}

/** Advisory lock keys of background jobs, apart from the store lock's. */
export const JOB_LOCKS = { rotation: 0x436f6601, lifecycle: 0x436f6602 } as const;
export type JobLock = (typeof JOB_LOCKS)[keyof typeof JOB_LOCKS];

export const sqliteDialect: StoreDialect = {
  kind: "sqlite",
  sharedByNodes: false,
  // node:sqlite prepares one statement at a time (and runs in process: there is no round trip to save).
  chainsStatements: false,
  pipelinesStatements: false,
  changesInOneStatement: false,
  binaryType: "blob",
  rowKeyType: "integer",
  bytewise: (column) => column, // BINARY is SQLite's default collation
  compressQuickly: async () => {}, // SQLite stores values as they are
  // One process owns an embedded store, and Kysely's SQLite driver runs one
  // connection at a time; there is no other node to exclude. (A transaction
  // begins IMMEDIATE, holding SQLite's write lock, so even a second process on
  // the same file would wait its turn: store/sqlite.ts.)
  withStoreLock: (db, fn) => fn(db),
  lockUntilCommit: async () => {},
  tryJobLock: (_db, _job, fn) => fn(),
};

const STORE_LOCK_KEY = 0x436f6666; // "Coff"

export const postgresDialect: StoreDialect = {
  kind: "postgres",
  sharedByNodes: true,
  // pg sends a query without parameters as a simple query, which may hold several statements.
  chainsStatements: true,
  // The pool's clients are in pg's pipeline mode (store.ts).
  pipelinesStatements: true,
  changesInOneStatement: true,
  binaryType: "bytea",
  rowKeyType: "bigint",
  bytewise: (column) => column.modifyEnd(sql`collate "C"`),
  // lz4 where the server was built with it (PostgreSQL 14 on, as most packages are); else pglz, the default, stays.
  compressQuickly: async (db, table, column) => {
    const { rows } = await sql<{ lz4: boolean }>`select 'lz4' = any(enumvals) as lz4 from pg_settings where name = 'default_toast_compression'`.execute(db);
    if (rows[0]?.lz4) await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} set compression lz4`.execute(db);
  },
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
  // A session lock held on one pooled connection while `fn` works through the pool.
  tryJobLock: (db, job, fn) =>
    db.connection().execute(async (connection) => {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${job}) as locked`.execute(connection);
      if (!rows[0]?.locked) return undefined;
      try {
        return await fn();
      } finally {
        await sql`select pg_advisory_unlock(${job})`.execute(connection);
      }
    }),
};
