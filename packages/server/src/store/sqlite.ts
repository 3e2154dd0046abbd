/**
 * Kysely over node:sqlite. Kysely's SqliteDialect expects better-sqlite3's
 * Database; node:sqlite differs in two ways that matter (kysely#1292):
 * parameters are spread rather than passed as one array, and a statement has
 * no `reader` flag. This adapter presents the subset Kysely's driver uses, so
 * the dialect, its connection mutex, compiler and introspector are reused as
 * they are. Prepared statements are cached: preparing is most of the cost of
 * a point query.
 */
import { closeSync, openSync } from "node:fs";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type QueryResult, type SqliteDialectConfig } from "kysely";
import { WAL_SIZE_LIMIT_BYTES, type Checkpointer } from "./checkpointer.ts";
import { BEGIN, CommitTracker, WalSync, openWal } from "./wal-sync.ts";

const STATEMENT_CACHE_SIZE = 256;

/** What the connection tells the checkpointer, and waits for. */
type CheckpointerHooks = Pick<Checkpointer, "wrote" | "beforeWrite" | "afterWrite">;

export interface SqliteConnection {
  dialect: SqliteDialect;
  /**
   * Runs a compiled query on the connection (prepared.ts, DirectRunner): in
   * the transaction holding it, or a select while none is open; else
   * undefined. Rows keyed by `columnName(column)`.
   */
  runDirect(query: CompiledQuery, inTransaction: boolean, columnName: (column: string) => string): QueryResult<unknown> | undefined;
  /**
   * Inside a transaction: its commit is acknowledged once written to the WAL
   * (it survives a crash of this process) and synced to disk within
   * UNSYNCED_COMMIT_DELAY_MS, or by the next commit that waits for its sync.
   */
  commitUnsynced(): void;
}

/** `checkpointer` hears of every use of the connection that committed (it starts on it), and may hold write transactions back. */
export function openSqlite(path: string, onError: (error: Error) => void, checkpointer: CheckpointerHooks): SqliteConnection {
  // The file holds only ciphertext, but its names and metadata are nobody else's business either;
  // SQLite gives the -wal and -shm files the database file's mode.
  closeSync(openSync(path, "a", 0o600));
  const database = new DatabaseSync(path);
  // WAL lets readers proceed during a write. NORMAL: a commit writes the WAL
  // but does not sync it; the driver below syncs it before the commit is
  // acknowledged (so every acknowledged commit survives a crash of the
  // process or the machine, as with FULL), without the event loop waiting.
  database.exec("PRAGMA journal_mode = WAL");
  database.exec("PRAGMA synchronous = NORMAL");
  database.exec("PRAGMA foreign_keys = ON");
  database.exec("PRAGMA busy_timeout = 5000");
  // Checkpoints run on a thread of their own (checkpointer.ts), never inside a commit on this one.
  database.exec("PRAGMA wal_autocheckpoint = 0");
  // Else the WAL file keeps the size of its largest burst on disk for as long as the server runs.
  database.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  const statements = new Map<string, ReturnType<typeof adapt>>();
  const writes = new CommitTracker(() => database.isTransaction);

  function prepare(sql: string) {
    let entry = statements.get(sql);
    if (!entry) {
      entry = adapt(database.prepare(sql));
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      statements.set(sql, entry);
    }
    writes.saw(sql);
    return entry;
  }

  const dialect = new DurableSqliteDialect(
    {
      database: {
        prepare,
        close: () => {
          statements.clear();
          if (database.isOpen) database.close();
        },
      } as never,
    },
    writes,
    new WalSync(() => openWal(path), onError),
    checkpointer,
  );
  const runDirect = (query: CompiledQuery, inTransaction: boolean, columnName: (column: string) => string): QueryResult<unknown> | undefined => {
    // Outside a transaction only a read, and not while a transaction is open: it would read that transaction's uncommitted changes.
    if (!inTransaction && (database.isTransaction || !query.sql.startsWith("select"))) return undefined;
    const statement = prepare(query.sql);
    if (!statement.reader) {
      const { changes } = statement.run(query.parameters);
      return { numAffectedRows: BigInt(changes), rows: [] };
    }
    statement.names ??= statement.columns.map(columnName);
    return { rows: statement.rows(query.parameters, statement.names) };
  };
  return { dialect, runDirect, commitUnsynced: () => writes.commitUnsynced() };
}

/** A statement as Kysely's SQLite driver uses one, made once per prepared statement; and as runDirect uses it. */
function adapt(statement: StatementSync) {
  const columns = statement.columns().map((column) => column.name);
  return {
    reader: columns.length > 0,
    columns,
    /** The columns' names as runDirect's caller keys them, once it has asked. */
    names: undefined as string[] | undefined,
    /** The rows keyed by `names`: from arrays, one object per row where all() makes SQLite's and Kysely's plugins another. */
    rows: (parameters: readonly unknown[], names: string[]) => {
      statement.setReturnArrays(true);
      let arrays: unknown[][];
      try {
        arrays = statement.all(...(parameters as SQLInputValue[])) as unknown as unknown[][];
      } finally {
        statement.setReturnArrays(false);
      }
      return arrays.map((values) => {
        const row: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) row[names[i]!] = values[i];
        return row;
      });
    },
    all: (parameters: readonly unknown[]) => statement.all(...(parameters as SQLInputValue[])),
    run: (parameters: readonly unknown[]) => statement.run(...(parameters as SQLInputValue[])),
    iterate: (parameters: readonly unknown[]) => statement.iterate(...(parameters as SQLInputValue[])),
  };
}

/**
 * Kysely's SQLite driver, but a caller whose statements committed something
 * gets its connection back only once the WAL holding the commit is synced.
 * The sync waits after the connection is released, so other queries go on
 * meanwhile (they may read the change before it is on disk, as SQLite's own
 * readers may under NORMAL). Kysely's `startTransaction()` would resolve its
 * commit() before the release and so before the sync: use `transaction()`.
 */
class DurableSqliteDialect extends SqliteDialect {
  #config: SqliteDialectConfig;
  #writes: CommitTracker;
  #wal: WalSync;
  #checkpointer: CheckpointerHooks;

  constructor(config: SqliteDialectConfig, writes: CommitTracker, wal: WalSync, checkpointer: CheckpointerHooks) {
    super(config);
    this.#config = config;
    this.#writes = writes;
    this.#wal = wal;
    this.#checkpointer = checkpointer;
  }

  override createDriver(): Driver {
    const writes = this.#writes;
    const wal = this.#wal;
    const checkpointer = this.#checkpointer;
    return new (class extends SqliteDriver {
      // IMMEDIATE: a transaction takes the write lock when it begins, waiting (busy_timeout) while another
      // connection holds it (a restore). A deferred one that has read first would fail with SQLITE_BUSY at its
      // first write instead. Before it, the pause the checkpointer may ask for (checkpointer.ts).
      override async beginTransaction(connection: DatabaseConnection): Promise<void> {
        const paused = checkpointer.beforeWrite();
        if (paused !== undefined) await paused;
        try {
          await connection.executeQuery(CompiledQuery.raw(BEGIN));
        } catch (error) {
          checkpointer.afterWrite();
          throw error;
        }
      }

      override async commitTransaction(connection: DatabaseConnection): Promise<void> {
        try {
          await super.commitTransaction(connection);
        } finally {
          checkpointer.afterWrite();
        }
      }

      override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
        try {
          await super.rollbackTransaction(connection);
        } finally {
          checkpointer.afterWrite();
        }
      }

      override async releaseConnection(): Promise<void> {
        const commit = writes.take();
        await super.releaseConnection();
        if (commit !== "none") checkpointer.wrote();
        if (commit === "synced") await wal.sync();
        else if (commit === "unsynced") await wal.syncSoon();
      }

      override async destroy(): Promise<void> {
        await wal.close();
        await super.destroy();
      }
    })(this.#config);
  }
}
