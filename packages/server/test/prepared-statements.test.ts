/**
 * On PostgreSQL a prepared query (store/prepared.ts) runs as a named prepared
 * statement when its result names its columns, and a `select *` stays
 * unnamed: a node of the previous version must keep working after a newer
 * node's migration adds columns (docs/deploy.md, upgrades one node at a
 * time), and a prepared `select *` would then fail on every run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sql } from "kysely";
import { openCoffer } from "../src/coffer.ts";
import { findById, findByName, findVersion } from "../src/secret/secret.repository.ts";
import { POSTGRES_POOL_SIZE, type Database } from "../src/store/store.ts";
import { STORES } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

const postgres = STORES.find((store) => store.kind === "postgres")!;

test("prepared queries are named statements on PostgreSQL, and keep working after another node adds columns", async (t) => {
  const target = await postgres.open(t);
  if (!target) return;
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  t.after(() => coffer.close());
  const principal = await coffer.auth.authenticate(coffer.bootstrapToken!, "127.0.0.1");
  const ctx = await coffer.secrets.context(principal, "default");
  const db = coffer.store.db;

  await coffer.secrets.create(ctx, { name: "api", data: { key: "v1" } });
  for (let i = 2; i <= 4; i++) await coffer.secrets.replace(ctx, "api", { key: `v${i}` }, {});
  await coffer.secrets.patch(ctx, "api", { extra: "x" }, {});

  const row = await db.selectFrom("secrets").select(["id", "workspaceId", "scope", "ownerId"]).where("name", "=", "api").executeTakeFirstOrThrow();
  // On each pooled connection: the queries of a read that misses the caches, which select every column.
  const readEverything = (connection: Database) => Promise.all([findByName(connection, row, "api"), findById(connection, row.workspaceId, row.id), findVersion(connection, row.id, 1)]);

  const before = await onEveryConnection(db, async (connection) => {
    assert.ok((await readEverything(connection)).every(Boolean));
    return (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(connection)).rows;
  });
  const prepared = before.flat().filter(({ name }) => name.startsWith("coffer_q"));
  assert.ok(prepared.some(({ statement }) => statement.includes('update "secrets" set "current_version"') && statement.includes('insert into "secret_versions"')), "a new version is one named statement");
  for (const { statement } of prepared) assert.doesNotMatch(statement, /select \*|returning \*|\."?\*/, "no named statement selects every column");

  // What a newer node's migration may do while this node runs.
  await sql`alter table secrets add column added_by_newer_node integer`.execute(db);
  await sql`alter table secret_versions add column added_by_newer_node integer`.execute(db);

  await onEveryConnection(db, async (connection) => assert.ok((await readEverything(connection)).every(Boolean)));
  for (let i = 5; i <= 7; i++) await coffer.secrets.replace(ctx, "api", { key: `v${i}` }, {});
  await coffer.secrets.patch(ctx, "api", { extra: "y" }, {});
  await coffer.secrets.rollback(ctx, "api", 3);
  await coffer.secrets.create(ctx, { name: "second", data: { key: "s" } });
  const after = await coffer.secrets.get(ctx, "api");
  assert.deepEqual(after.data, { key: "v3" });
  assert.equal(after.version, 10);
  assert.equal((await coffer.secrets.list(ctx, {})).items.length, 2);
});

/** `fn` on each of the pool's connections, all held at once so that none is used twice. */
async function onEveryConnection<T>(db: Database, fn: (connection: Database) => Promise<T>): Promise<T[]> {
  let waiting = POSTGRES_POOL_SIZE;
  let allHeld!: () => void;
  const held = new Promise<void>((resolve) => (allHeld = resolve));
  return Promise.all(
    Array.from({ length: POSTGRES_POOL_SIZE }, () =>
      db.connection().execute(async (connection) => {
        if (--waiting === 0) allHeld();
        await held;
        return fn(connection);
      }),
    ),
  );
}
