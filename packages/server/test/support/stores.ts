/**
 * Runs a test body once per store, as Kysely's own tests run once per dialect:
 * `for (const store of STORES) test(`… (${store.kind})`, async (t) => { const target = await store.open(t); … })`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, type TestContext } from "node:test";
import { createTestDatabase, postgresUnavailable, type TestDatabase } from "./postgres.ts";

/**
 * Databases are dropped once the whole file is done, not in each test's own
 * after-hooks: those run in the order they were registered, so a drop
 * registered by open() would run before the test closed its connections, and
 * `drop … with (force)` would kill them under it.
 */
const databases: TestDatabase[] = [];
/**
 * Temporary directories go at the same time, for the same reason: removed in
 * the test's after-hook, a directory went while the store in it was still
 * open, and a file its checkpointer wrote meanwhile failed the removal
 * (ENOTEMPTY).
 */
const directories: string[] = [];
after(async () => {
  for (const database of databases.splice(0)) await database.drop();
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

export interface StoreTarget {
  kind: "sqlite" | "postgres";
  /** Always set: the SQLite file and the root key file live here. */
  dataDir: string;
  databaseUrl: string | undefined;
}

export interface StoreKind {
  kind: "sqlite" | "postgres";
  /** Prepares an empty store for one test and removes it afterwards; skips the test when the store is not available. */
  open(t: TestContext): Promise<StoreTarget | null>;
}

/** A directory of its own for one test, removed once the file's tests are done. */
export function tempDir(label = "coffer"): string {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`));
  directories.push(dir);
  return dir;
}

export const STORES: StoreKind[] = [
  {
    kind: "sqlite",
    open: async (t) => ({ kind: "sqlite", dataDir: tempDir(), databaseUrl: undefined }),
  },
  {
    kind: "postgres",
    open: async (t) => {
      const reason = await postgresUnavailable();
      if (reason) {
        t.skip(reason);
        return null;
      }
      databases.push(await createTestDatabase());
      const database = databases.at(-1)!;
      return { kind: "postgres", dataDir: tempDir(), databaseUrl: database.url };
    },
  },
];
