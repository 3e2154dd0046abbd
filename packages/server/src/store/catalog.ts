/**
 * What tables the store has, read from the database itself rather than from
 * a list in the code: a backup covers every table, including ones added by a
 * migration this module has never heard of. Each database describes itself
 * differently, so each has its catalog here, and nothing else asks.
 */
import { CompiledQuery, sql, type Kysely, type RawBuilder } from "kysely";
import type { StoreDialect } from "./dialect.ts";
import { MIGRATION_TABLES } from "./migrate.ts";

/** A table as backups see it: columns in their stored order, which of them hold bytes, and the tables it references. */
export interface TableInfo {
  name: string;
  columns: string[];
  binary: string[];
  references: string[];
}

/** Runs one SQL text with positional parameters and returns its rows as objects. */
export type Query = (text: string, parameters?: unknown[]) => Promise<Record<string, unknown>[]>;

interface Catalog {
  tableNames(query: Query): Promise<string[]>;
  columns(query: Query, table: string): Promise<{ name: string; binary: boolean }[]>;
  references(query: Query, table: string): Promise<string[]>;
  /** Written after `insert into t (…)`, so explicit values reach identity columns too. */
  insertOverride: RawBuilder<unknown> | null;
  /** After rows were inserted with explicit ids, makes generated ids continue above them. */
  afterLoad(query: Query, tables: readonly TableInfo[]): Promise<void>;
}

const sqliteCatalog: Catalog = {
  tableNames: async (query) =>
    (await query("select name from sqlite_schema where type = 'table' and name not like 'sqlite\\_%' escape '\\' order by name")).map((row) => String(row.name)),
  columns: async (query, table) =>
    (await query("select name, type from pragma_table_info(?) order by cid", [table])).map((row) => ({
      name: String(row.name),
      binary: String(row.type).toLowerCase() === "blob",
    })),
  references: async (query, table) => (await query("select distinct \"table\" as parent from pragma_foreign_key_list(?)", [table])).map((row) => String(row.parent)),
  insertOverride: null,
  // An AUTOINCREMENT table's counter (sqlite_sequence) follows explicit ids by itself.
  afterLoad: async () => {},
};

const postgresCatalog: Catalog = {
  tableNames: async (query) =>
    (await query("select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name")).map((row) => String(row.name)),
  columns: async (query, table) =>
    (await query("select column_name as name, data_type as type from information_schema.columns where table_schema = current_schema() and table_name = $1 order by ordinal_position", [table])).map((row) => ({
      name: String(row.name),
      binary: row.type === "bytea",
    })),
  references: async (query, table) =>
    (
      await query(
        `select distinct parent.relname as parent
           from pg_constraint c
           join pg_class child on child.oid = c.conrelid
           join pg_class parent on parent.oid = c.confrelid
           join pg_namespace n on n.oid = child.relnamespace
          where c.contype = 'f' and n.nspname = current_schema() and child.relname = $1`,
        [table],
      )
    ).map((row) => String(row.parent)),
  insertOverride: sql`overriding system value`,
  afterLoad: async (query, tables) => {
    for (const table of tables) {
      for (const column of table.columns) {
        const [found] = await query("select pg_get_serial_sequence($1, $2) as sequence", [quoteIdentifier(table.name), column]);
        if (!found?.sequence) continue;
        await query(`select setval($1, coalesce((select max(${quoteIdentifier(column)}) from ${quoteIdentifier(table.name)}), 0) + 1, false)`, [found.sequence]);
      }
    }
  },
};

export function catalogOf(dialect: StoreDialect): Catalog {
  return dialect.kind === "postgres" ? postgresCatalog : sqliteCatalog;
}

/** Every data table (not the migration bookkeeping), parents before the tables whose foreign keys point at them. */
export async function describeTables(dialect: StoreDialect, query: Query): Promise<TableInfo[]> {
  const catalog = catalogOf(dialect);
  const bookkeeping = new Set<string>(Object.values(MIGRATION_TABLES));
  const tables: TableInfo[] = [];
  for (const name of await catalog.tableNames(query)) {
    if (bookkeeping.has(name)) continue;
    const columns = await catalog.columns(query, name);
    tables.push({
      name,
      columns: columns.map((column) => column.name),
      binary: columns.filter((column) => column.binary).map((column) => column.name),
      references: (await catalog.references(query, name)).filter((parent) => parent !== name),
    });
  }
  return parentsFirst(tables);
}

/** The names of the migrations applied to this store, in order; none when it has never been migrated. */
export async function appliedMigrations(dialect: StoreDialect, query: Query): Promise<string[]> {
  if (!(await catalogOf(dialect).tableNames(query)).includes(MIGRATION_TABLES.migrations)) return [];
  return (await query(`select name from ${MIGRATION_TABLES.migrations} order by name`)).map((row) => String(row.name));
}

/** A Query over Kysely, without its plugins: catalogs and backups speak the stored (snake_case) names. */
export function kyselyQuery(db: Kysely<any>): Query {
  const plain = db.withoutPlugins();
  return async (text, parameters = []) => (await plain.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, parameters))).rows;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function parentsFirst(tables: TableInfo[]): TableInfo[] {
  const byName = new Map(tables.map((table) => [table.name, table]));
  const ordered: TableInfo[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (table: TableInfo, path: string[]) => {
    const seen = state.get(table.name);
    if (seen === "done") return;
    if (seen === "visiting") throw new Error(`foreign keys form a cycle (${[...path, table.name].join(" → ")}); backups cannot order these tables`);
    state.set(table.name, "visiting");
    for (const parent of table.references) {
      const found = byName.get(parent);
      if (found) visit(found, [...path, table.name]);
    }
    state.set(table.name, "done");
    ordered.push(table);
  };
  for (const table of tables) visit(table, []);
  return ordered;
}
