/**
 * Opens the store: the embedded SQLite file by default, PostgreSQL when a
 * database URL is given. Only this folder imports node:sqlite or pg.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { QueryResultRow } from "pg";
import { CamelCasePlugin, CompiledQuery, Kysely, PostgresDialect, sql } from "kysely";
import { localChangeFeed, postgresChangeFeed, type ChangeFeed } from "./changes.ts";
import { postgresDialect, sqliteDialect, type StoreDialect } from "./dialect.ts";
import { migrateToLatest } from "./migrate.ts";
import { postgresSnapshot, sqliteSnapshot, type Snapshot } from "./snapshot.ts";
import { startCheckpointer, type Checkpointer } from "./checkpointer.ts";
import { GroupCommit } from "./group-commit.ts";
import { runDirectlyWith } from "./prepared.ts";
import { openSqlite, type SqliteConnection } from "./sqlite.ts";
import { lockStore } from "./store-lock.ts";
import type { Tables } from "./tables.ts";

export type Database = Kysely<Tables>;

/**
 * A statement that runs for every batch of requests or page of a list, with a
 * fixed text and a name unique in the process: PostgreSQL keeps it parsed by
 * that name on each connection and, once its plan does not depend on the
 * values, planned too, as it does a prepared query's (prepared.ts). Written
 * as SQL where Kysely's builder cannot say it, or its rows come as arrays.
 */
export interface NamedStatement {
  name: string;
  text: string;
  /** "array": each row as its columns' values in the order selected, where an object per row costs more than the statement does (a list's page). */
  rowMode?: "array";
}

export interface Store {
  db: Database;
  dialect: StoreDialect;
  changes: ChangeFeed;
  /** Where the data lives, for logs: a file path or the URL without its password. */
  location: string;
  /**
   * A transaction whose commit is acknowledged once written, before it is
   * synced to disk: it survives a crash of this process at once, a crash of
   * the machine once synced, within a fraction of a second (SQLite: the WAL
   * sync below; PostgreSQL: synchronous_commit = off). For the audit events of
   * reads (audit.service.ts); every other commit waits for its sync.
   */
  writeUnsynced<T>(fn: (trx: Database) => Promise<T>): Promise<T>;
  /**
   * A transaction shared with the other writes that arrive meanwhile: one
   * commit and one sync for the lot, each write in a savepoint of its own,
   * resolved once the commit is durable (group-commit.ts, which says what
   * `fn` may do). For writes that many requests make at once: secrets (with
   * the request's audit event where it can go in the change's commit:
   * http/audit.ts), the audit events of other changes (SQLite) and alerts.
   * `sideBySide`: the key of what `fn` changes; it may run at the same time
   * as the batch's other such writes to other keys, on a store that
   * pipelines statements (group-commit.ts says when a write may).
   */
  writeGrouped<T>(fn: (trx: Database) => Promise<T>, options?: { sideBySide?: string }): Promise<T>;
  /** Runs `statement` alone, in a transaction of its own; on PostgreSQL as a named prepared statement. Its rows. */
  runNamed<R>(statement: NamedStatement, values: unknown[]): Promise<R[]>;
  /** A consistent read of every table while writes go on (backups). */
  snapshot(): Promise<Snapshot>;
  close(): Promise<void>;
}

export interface StoreOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  onError?: (error: Error) => void;
  /** Notes that are not failures (the change feed listening again). */
  log?: (message: string) => void;
  /** false: open the store as it is, unmigrated (a restore checks it is empty first). */
  migrate?: boolean;
}

export const SQLITE_FILE = "coffer.db";

const BIGINT_OID = 20;
/** Pooled PostgreSQL connections; up to POSTGRES_GROUPS_IN_FLIGHT of them commit write batches at once, the rest serve reads and the audit log. */
export const POSTGRES_POOL_SIZE = 10;
/**
 * A batch costs PostgreSQL some four round trips however many writes it holds
 * (its writes' statements go together: pipeline.ts), so fewer, larger batches
 * cost less per write: two in flight against four, 64 writers, took PostgreSQL's
 * context switches per update 1.45 → 0.85 and its CPU per update down a fifth.
 * Two, not one: a batch waiting for a row another node's batch holds stalls
 * only half of this node's writes.
 */
const POSTGRES_GROUPS_IN_FLIGHT = 2;
/** One batch syncs while the next is written (SQLite runs one transaction at a time). */
const SQLITE_GROUPS_IN_FLIGHT = 2;

export async function openStore(options: StoreOptions): Promise<Store> {
  const onError = options.onError ?? (() => {});
  let store: Store;
  if (options.databaseUrl) {
    const url = options.databaseUrl;
    // Loaded only here: a server on the embedded SQLite store never needs the PostgreSQL client.
    const { default: pg } = await import("pg");
    // Times are integer milliseconds: well inside Number's exact range.
    const types = { getTypeParser: ((oid: number, format?: "text" | "binary") => oid === BIGINT_OID ? Number : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser };
    const { NamingClient } = await import("./naming-client.ts");
    // Pipeline mode: statements a client is given while it waits for an answer are sent at once, not queued
    // (pipeline.ts). Kysely gives a connection one statement at a time, so only those sent together are.
    const pool = new pg.Pool({ connectionString: url, max: POSTGRES_POOL_SIZE, types, Client: NamingClient, pipeline: true });
    pool.on("error", onError);
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] });
    let changes: ChangeFeed;
    try {
      if (options.migrate !== false) await migrateToLatest(db, postgresDialect);
      changes = await postgresChangeFeed(url, onError, options.log);
    } catch (error) {
      await db.destroy();
      throw error;
    }
    const grouped = new GroupCommit(db, POSTGRES_GROUPS_IN_FLIGHT, postgresDialect);
    store = {
      db,
      dialect: postgresDialect,
      changes,
      location: redactUrl(url),
      writeUnsynced: (fn) =>
        db.transaction().execute(async (trx) => {
          await sql`set local synchronous_commit = off`.execute(trx);
          return fn(trx);
        }),
      writeGrouped: (fn, options) => grouped.run(fn, options?.sideBySide),
      runNamed: async <R>({ name, text, rowMode }: NamedStatement, values: unknown[]) => (await pool.query<R & QueryResultRow>({ name, text, values, ...(rowMode ? { rowMode } : {}) })).rows,
      snapshot: () => postgresSnapshot({ connectionString: url, types }),
      close: async () => {
        await changes.close();
        await db.destroy();
      },
    };
  } else {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const unlock = lockStore(options.dataDir);
    const path = join(options.dataDir, SQLITE_FILE);
    let checkpointer: Checkpointer | undefined;
    let sqlite: SqliteConnection;
    try {
      // Before migrating: a migration that moves many rows must not grow the WAL unchecked.
      checkpointer = startCheckpointer(path, onError);
      sqlite = openSqlite(path, onError, checkpointer);
    } catch (error) {
      // A file that is no database, or one this user may not open: a later try in this process must not find the store locked.
      await checkpointer?.stop();
      unlock();
      // SQLite's own message ("file is not a database") names no file.
      if ((error as { code?: unknown }).code === "ERR_SQLITE_ERROR") throw new Error(`cannot open the store ${path}: ${(error as Error).message}`, { cause: error });
      throw error;
    }
    const { dialect, runDirect, commitUnsynced } = sqlite;
    const names = new ColumnNames();
    const db = new Kysely<Tables>({ dialect, plugins: [names] });
    runDirectlyWith(db, (query, inTransaction) => runDirect(query, inTransaction, (column) => names.of(column)));
    try {
      if (options.migrate !== false) await migrateToLatest(db, sqliteDialect);
    } catch (error) {
      await checkpointer.stop();
      await db.destroy();
      unlock();
      throw error;
    }
    const changes = localChangeFeed();
    const grouped = new GroupCommit(db, SQLITE_GROUPS_IN_FLIGHT, sqliteDialect);
    store = {
      db,
      dialect: sqliteDialect,
      changes,
      location: path,
      writeUnsynced: (fn) =>
        db.transaction().execute((trx) => {
          commitUnsynced();
          return fn(trx);
        }),
      writeGrouped: (fn, options) => grouped.run(fn, options?.sideBySide),
      // node:sqlite runs in process: no parse or round trip to save.
      runNamed: async <R>({ text, rowMode }: NamedStatement, values: unknown[]) => {
        const { rows } = await db.executeQuery<R>(CompiledQuery.raw(text, values));
        return rowMode === "array" ? (rows.map((row) => Object.values(row as object)) as R[]) : rows;
      },
      snapshot: () => sqliteSnapshot(path),
      close: async () => {
        await checkpointer.stop();
        await db.destroy();
        unlock();
      },
    };
  }
  return store;
}

/** Kysely's snake_case-to-camelCase plugin, also naming the columns of rows read without it (prepared.ts, execute). */
class ColumnNames extends CamelCasePlugin {
  of(column: string): string {
    return this.camelCase(column);
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "****";
    return parsed.toString();
  } catch {
    return "postgres";
  }
}
