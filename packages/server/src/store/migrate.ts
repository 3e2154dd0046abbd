/**
 * One list of migrations for both databases. They run on every start, under
 * the store lock, so two nodes starting together against one PostgreSQL
 * neither race nor apply a migration twice.
 */
import { Migrator, type Kysely, type Migration } from "kysely";
import type { StoreDialect } from "./dialect.ts";
import * as initial from "./migrations/0001-initial.ts";
import * as rateLimits from "./migrations/0005-rate-limits.ts";

type Step = { up(db: Kysely<any>, dialect: StoreDialect): Promise<void> };

const STEPS: Record<string, Step> = {
  "0001-initial": initial,
  "0005-rate-limits": rateLimits,
};

/** Every migration's name, in the order they apply. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(STEPS);

export async function migrateToLatest(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  const migrations: Record<string, Migration> = {};
  for (const [name, step] of Object.entries(STEPS)) {
    migrations[name] = { up: (tx) => step.up(tx, dialect) };
  }
  await dialect.withStoreLock(db, async (locked) => {
    const migrator = new Migrator({
      db: locked,
      provider: { getMigrations: async () => migrations },
      migrationTableName: "coffer_migrations",
      migrationLockTableName: "coffer_migrations_lock",
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
  });
}
