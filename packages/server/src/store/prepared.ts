/**
 * Queries built and compiled once, run many times with other values. Kysely
 * builds a query's tree, passes it through the plugins and compiles it on
 * every execute: for a point statement on SQLite that costs several times
 * what running it does. A prepared query is compiled once per store (per
 * Kysely adapter: SQLite and PostgreSQL spell it differently) with a
 * placeholder for each named value, whose positions among the compiled
 * parameters say where each value goes; the other parameters stay as
 * compiled. The SQL text is then the same string every time, which is also
 * what the SQLite driver's statement cache looks up, and on PostgreSQL the
 * name of a prepared statement (statementName): parsed once per connection,
 * where Kysely's unnamed statements are parsed and planned on every run
 * (parse and plan were some 40% of PostgreSQL's CPU for an update). Only a
 * statement whose result names its columns is named: after another node's
 * migration adds a column, a prepared `select *` fails on every run ("cached
 * plan must not change result type"), where one naming its columns is
 * replanned.
 *
 * Only for queries whose shape does not depend on the values (no `in` lists,
 * no optional columns): a value must reach the compiler as a parameter, as
 * it does in `where(column, "=", value)`, `set({ column: value })` and
 * `values({ column: value })`, never inlined or looked at by the builder.
 */
import { ReferenceNode, SelectAllNode, type CompiledQuery, type Compilable, type Kysely, type QueryResult, type RootOperationNode } from "kysely";
import { sentTogether } from "./pipeline.ts";

/** What a parameter holds at compile time: a string no value of Coffer's can be. */
const PLACEHOLDER = "\u0000coffer-param:";

interface Compiled<R> {
  query: CompiledQuery<R>;
  /** For each compiled parameter, the name of the value that goes there, or undefined: keep the compiled one. */
  slots: (string | undefined)[];
}

/** The prepared statements' names, by their SQL text. */
const names = new Map<string, string>();

/** The name under which PostgreSQL may keep `sql`'s statement prepared, if it is a prepared query's. */
export function statementName(sql: string): string | undefined {
  return names.get(sql);
}

/** Whether a statement's rows have the columns it names, whatever columns its tables gain. */
function namesItsColumns(node: RootOperationNode): boolean {
  const selections = node.kind === "SelectQueryNode" ? node.selections : "returning" in node ? node.returning?.selections : undefined;
  return !selections?.some(({ selection }) => SelectAllNode.is(selection) || (ReferenceNode.is(selection) && SelectAllNode.is(selection.column)));
}

/**
 * `build` receives the database and an object whose every field is a
 * placeholder for the value of the same name; the returned function gives
 * the query compiled for `db` with `values` in place.
 */
export function prepared<DB, P extends object, R>(build: (db: Kysely<DB>, values: P) => Compilable<R>): (db: Kysely<DB>, values: P) => CompiledQuery<R> {
  const byAdapter = new WeakMap<object, Compiled<R>>();
  const placeholders = new Proxy({} as P, { get: (_, name) => PLACEHOLDER + String(name) });
  return (db, values) => {
    const adapter = db.getExecutor().adapter;
    let compiled = byAdapter.get(adapter);
    if (compiled === undefined) {
      const query = build(db, placeholders).compile();
      const slots = query.parameters.map((parameter) => (typeof parameter === "string" && parameter.startsWith(PLACEHOLDER) ? parameter.slice(PLACEHOLDER.length) : undefined));
      compiled = { query, slots };
      byAdapter.set(adapter, compiled);
      if (namesItsColumns(query.query) && !names.has(query.sql)) names.set(query.sql, `coffer_q${names.size + 1}`);
    }
    const { query, slots } = compiled;
    const parameters = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const name = slots[i];
      parameters[i] = name === undefined ? query.parameters[i] : values[name as keyof P];
    }
    return { ...query, parameters };
  };
}

/**
 * Runs a compiled query straight on the connection, its rows as Kysely's
 * plugins would give them, for a store whose statements run synchronously
 * (sqlite.ts): a transaction's statement on the connection it holds, and a
 * read outside one while no transaction is open on the connection (what a
 * read waiting for the connection would see too, sooner). Undefined: not
 * here, use Kysely.
 */
export type DirectRunner = (query: CompiledQuery, inTransaction: boolean) => QueryResult<unknown> | undefined;

const runners = new WeakMap<object, DirectRunner>();

/** Lets execute() run `db`'s queries (and its transactions') with `runner`. */
export function runDirectlyWith(db: Kysely<any>, runner: DirectRunner): void {
  runners.set(db.getExecutor().adapter, runner);
}

/** Whether execute() runs `db`'s statements as calls (a DirectRunner), not round trips. */
export function runsDirectly(db: Kysely<any>): boolean {
  return runners.has(db.getExecutor().adapter);
}

/**
 * `db.executeQuery(query)`, without Kysely's executor where the store has a
 * DirectRunner: its connection lock, plugins and half a dozen promises per
 * statement cost more than a point statement on SQLite does. The statements
 * of one transaction must be awaited one by one, as the group-commit writes
 * do, except those of writes running side by side on PostgreSQL, which go
 * to it together (pipeline.ts).
 */
export async function execute<R>(db: Kysely<any>, query: CompiledQuery<R>): Promise<QueryResult<R>> {
  const direct = runners.get(db.getExecutor().adapter)?.(query, db.isTransaction);
  if (direct !== undefined) return direct as QueryResult<R>;
  return sentTogether(db, query) ?? db.executeQuery(query);
}
