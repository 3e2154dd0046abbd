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
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from "kysely";

const STATEMENT_CACHE_SIZE = 256;
const BEGIN = "begin immediate";

/** Commits written but not yet synced are synced within this long. */
export const UNSYNCED_COMMIT_DELAY_MS = 100;

export interface SqliteConnection {
  dialect: SqliteDialect;
  /**
   * Inside a transaction: its commit is acknowledged once written to the WAL
   * (it survives a crash of this process) and synced to disk within
   * UNSYNCED_COMMIT_DELAY_MS, or by the next commit that waits for its sync.
   */
  commitUnsynced(): void;
}

export function openSqlite(path: string, onError: (error: Error) => void): SqliteConnection {
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
  const statements = new Map<string, { statement: StatementSync; reader: boolean }>();
  const writes = new WriteTracker();

  function prepare(sql: string) {
    let entry = statements.get(sql);
    if (!entry) {
      const statement = database.prepare(sql);
      entry = { statement, reader: statement.columns().length > 0 };
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      statements.set(sql, entry);
    }
    writes.saw(sql);
    const { statement, reader } = entry;
    return {
      reader,
      all: (parameters: readonly unknown[]) => statement.all(...(parameters as SQLInputValue[])),
      run: (parameters: readonly unknown[]) => statement.run(...(parameters as SQLInputValue[])),
      iterate: (parameters: readonly unknown[]) => statement.iterate(...(parameters as SQLInputValue[])),
    };
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
    new WalSync(path, onError),
  );
  return { dialect, commitUnsynced: () => writes.commitUnsynced() };
}

type Commit = "none" | "synced" | "unsynced";

/**
 * What the statements run since the connection was taken committed, from
 * their SQL as Kysely writes it: a COMMIT, or a statement other than a
 * SELECT outside a transaction, is a commit to sync (a false alarm costs one
 * sync); a transaction marked by commitUnsynced() commits unsynced.
 */
class WriteTracker {
  #inTransaction = false;
  #unsynced = false;
  #commit: Commit = "none";

  saw(sql: string): void {
    if (sql === BEGIN) this.#inTransaction = true;
    else if (sql === "rollback") this.#endTransaction();
    else if (sql === "commit") {
      this.#commit = this.#unsynced ? "unsynced" : "synced";
      this.#endTransaction();
    } else if (!this.#inTransaction && !sql.startsWith("select")) this.#commit = "synced";
  }

  commitUnsynced(): void {
    if (!this.#inTransaction) throw new Error("commitUnsynced() is for the transaction under way");
    this.#unsynced = true;
  }

  /** What the connection's user committed, once. */
  take(): Commit {
    const commit = this.#commit;
    this.#commit = "none";
    return commit;
  }

  #endTransaction(): void {
    this.#inTransaction = false;
    this.#unsynced = false;
  }
}

/**
 * Kysely's SQLite driver, but a caller whose statements committed something
 * gets its connection back only once the WAL holding the commit is synced.
 * The sync waits after the connection is released, so other queries go on
 * meanwhile (they may read the change before it is on disk, as SQLite's own
 * readers may under NORMAL).
 */
class DurableSqliteDialect extends SqliteDialect {
  #config: SqliteDialectConfig;
  #writes: WriteTracker;
  #wal: WalSync;

  constructor(config: SqliteDialectConfig, writes: WriteTracker, wal: WalSync) {
    super(config);
    this.#config = config;
    this.#writes = writes;
    this.#wal = wal;
  }

  override createDriver(): Driver {
    const writes = this.#writes;
    const wal = this.#wal;
    return new (class extends SqliteDriver {
      // IMMEDIATE: a transaction takes the write lock when it begins, waiting (busy_timeout) while the checkpointer
      // holds it. A deferred one that has read first would fail with SQLITE_BUSY at its first write instead.
      override async beginTransaction(connection: DatabaseConnection): Promise<void> {
        await connection.executeQuery(CompiledQuery.raw(BEGIN));
      }

      override async releaseConnection(): Promise<void> {
        const commit = writes.take();
        await super.releaseConnection();
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

/**
 * fdatasync of the WAL on libuv's thread pool: in WAL mode a commit is its
 * frames in the WAL, so once the WAL is synced the commit is on disk, just as
 * if SQLite had synced it inside COMMIT (synchronous=FULL) while holding the
 * JavaScript thread. Commits that land while a sync is under way share the
 * next one: group commit at the disk. The WAL file is opened once and stays
 * the same file while this process has the database open (SQLite deletes it
 * only when the last connection closes; checkpoints rewind or truncate it).
 */
class WalSync {
  #path: string;
  #onError: (error: Error) => void;
  #file: Promise<FileHandle> | undefined;
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;
  #soon: NodeJS.Timeout | null = null;
  /** The last sync failed: commits wait for a sync of their own until one succeeds. */
  #failing = false;

  constructor(path: string, onError: (error: Error) => void) {
    this.#path = path;
    this.#onError = onError;
  }

  /**
   * For an unsynced commit: a sync within UNSYNCED_COMMIT_DELAY_MS. Waits for
   * one now instead while syncs are failing, so a disk that stopped taking
   * writes fails the commit (fail closed) rather than go unnoticed.
   */
  async syncSoon(): Promise<void> {
    if (this.#failing) return this.sync();
    this.#soon ??= setTimeout(() => {
      this.#soon = null;
      this.sync().catch((error: Error) => this.#onError(new Error(`syncing the SQLite WAL failed: ${error.message}`)));
    }, UNSYNCED_COMMIT_DELAY_MS);
  }

  sync(): Promise<void> {
    if (this.#running === null) return this.#start();
    // The sync under way may have begun before this commit was written.
    this.#next ??= this.#running.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#next;
  }

  /** Syncs what is still unsynced, then closes the WAL. */
  async close(): Promise<void> {
    if (this.#soon !== null) {
      clearTimeout(this.#soon);
      this.#soon = null;
      await this.sync().catch((error: Error) => this.#onError(error));
    }
    await Promise.allSettled([this.#running, this.#next]);
    const file = await this.#file?.catch(() => undefined);
    await file?.close();
  }

  #startNext(): Promise<void> {
    this.#next = null;
    return this.#start();
  }

  #start(): Promise<void> {
    this.#file ??= openWal(this.#path);
    const running = this.#file.then((file) => file.datasync());
    this.#running = running;
    const done = (failing: boolean) => {
      this.#failing = failing;
      if (this.#running === running) this.#running = null;
    };
    running.then(
      () => done(false),
      () => done(true),
    );
    return running;
  }
}

async function openWal(path: string): Promise<FileHandle> {
  const file = await open(`${path}-wal`, "r");
  // Under FULL, SQLite syncs the directory on a new WAL's first sync; so must this, once, or the file's entry could be lost.
  const directory = await open(dirname(path), "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
  return file;
}
