/**
 * A fresh PostgreSQL database per test file, on the server CI provides at
 * 127.0.0.1:5432 (COFFER_TEST_POSTGRES_URL overrides). In CI a missing
 * PostgreSQL fails the run; elsewhere the PostgreSQL half of a test is skipped
 * and says so.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

const ADMIN_URL = process.env.COFFER_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

let available: Promise<string | null> | undefined;

/** null when PostgreSQL answers; otherwise why not. Throws in CI, where it is required. */
export function postgresUnavailable(): Promise<string | null> {
  available ??= (async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query("select 1");
      return null;
    } catch (error) {
      const reason = `PostgreSQL is not reachable at ${redact(ADMIN_URL)} (${(error as Error).message})`;
      if (process.env.CI === "true") throw new Error(`${reason}; CI requires it`);
      return reason;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return available;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `coffer_test_${randomBytes(6).toString("hex")}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((client) => client.query(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}

/** Every row of every table as text: what a pg_dump of the data would show. */
export async function dumpTables(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public'");
    let out = "";
    for (const { tablename } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select t::text as row from "${tablename}" t`);
      out += rows.rows.map((r) => r.row).join("\n") + "\n";
    }
    return out;
  } finally {
    await client.end();
  }
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "****";
  return parsed.toString();
}
