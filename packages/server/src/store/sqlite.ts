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
import { SqliteDialect } from "kysely";

const STATEMENT_CACHE_SIZE = 256;

export function openSqlite(path: string): { database: DatabaseSync; dialect: SqliteDialect } {
  // The file holds only ciphertext, but its names and metadata are nobody else's business either;
  // SQLite gives the -wal and -shm files the database file's mode.
  closeSync(openSync(path, "a", 0o600));
  const database = new DatabaseSync(path);
  // WAL lets readers proceed during a write; synchronous=FULL makes every
  // acknowledged commit survive a crash of the process or the machine.
  database.exec("PRAGMA journal_mode = WAL");
  database.exec("PRAGMA synchronous = FULL");
  database.exec("PRAGMA foreign_keys = ON");
  database.exec("PRAGMA busy_timeout = 5000");
  const statements = new Map<string, { statement: StatementSync; reader: boolean }>();

  function prepare(sql: string) {
    let entry = statements.get(sql);
    if (!entry) {
      const statement = database.prepare(sql);
      entry = { statement, reader: statement.columns().length > 0 };
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      statements.set(sql, entry);
    }
    const { statement, reader } = entry;
    return {
      reader,
      all: (parameters: readonly unknown[]) => statement.all(...(parameters as SQLInputValue[])),
      run: (parameters: readonly unknown[]) => statement.run(...(parameters as SQLInputValue[])),
      iterate: (parameters: readonly unknown[]) => statement.iterate(...(parameters as SQLInputValue[])),
    };
  }

  const dialect = new SqliteDialect({
    database: {
      prepare,
      close: () => {
        statements.clear();
        if (database.isOpen) database.close();
      },
    } as never,
  });
  return { database, dialect };
}
