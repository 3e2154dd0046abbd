/**
 * One list of migrations for both databases. They run on every start, under
 * the store lock, so two nodes starting together against one PostgreSQL
 * neither race nor apply a migration twice.
 */
import { Migrator, type Kysely, type Migration, type MigrationResultSet } from "kysely";
import type { StoreDialect } from "./dialect.ts";
import * as initial from "./migrations/0001-initial.ts";
import * as audit from "./migrations/0002-audit.ts";
import * as rotation from "./migrations/0003-rotation.ts";
import * as secretLifecycle from "./migrations/0004-secret-lifecycle.ts";
import * as rateLimits from "./migrations/0005-rate-limits.ts";
import * as auditSegments from "./migrations/0006-audit-segments.ts";
import * as relay from "./migrations/0007-relay.ts";
import * as vault from "./migrations/0008-vault.ts";
import * as canaries from "./migrations/0010-canaries.ts";
import * as approvals from "./migrations/0011-approvals.ts";
import * as auditLz4 from "./migrations/0012-audit-lz4.ts";
import * as alertTime from "./migrations/0013-alert-time.ts";
import * as tokenEnds from "./migrations/0014-token-ends.ts";

type Step = { up(db: Kysely<any>, dialect: StoreDialect): Promise<void> };

const STEPS: Record<string, Step> = {
  "0001-initial": initial,
  "0002-audit": audit,
  "0003-rotation": rotation,
  "0004-secret-lifecycle": secretLifecycle,
  "0005-rate-limits": rateLimits,
  "0006-audit-segments": auditSegments,
  "0007-relay": relay,
  "0008-vault": vault,
  "0010-canaries": canaries,
  "0011-approvals": approvals,
  "0012-audit-lz4": auditLz4,
  "0013-alert-time": alertTime,
  "0014-token-ends": tokenEnds,
};

/** Where Kysely keeps its bookkeeping: not data, so backups record the applied names instead of these rows. */
export const MIGRATION_TABLES = { migrations: "coffer_migrations", lock: "coffer_migrations_lock" } as const;

/** Every migration this version of Coffer knows, in order. */
export const KNOWN_MIGRATIONS: readonly string[] = Object.keys(STEPS).sort();

export async function migrateToLatest(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  await migrate(db, dialect, (migrator) => migrator.migrateToLatest());
}

/** Applies the migrations up to and including `name` (a restore first brings an empty store to its backup's level). */
export async function migrateTo(db: Kysely<any>, dialect: StoreDialect, name: string): Promise<void> {
  await migrate(db, dialect, (migrator) => migrator.migrateTo(name));
}

async function migrate(db: Kysely<any>, dialect: StoreDialect, run: (migrator: Migrator) => Promise<MigrationResultSet>): Promise<void> {
  const migrations: Record<string, Migration> = {};
  for (const [name, step] of Object.entries(STEPS)) {
    migrations[name] = { up: (tx) => step.up(tx, dialect) };
  }
  await dialect.withStoreLock(db, async (locked) => {
    const migrator = new Migrator({
      db: locked,
      provider: { getMigrations: async () => migrations },
      migrationTableName: MIGRATION_TABLES.migrations,
      migrationLockTableName: MIGRATION_TABLES.lock,
    });
    const { error } = await run(migrator);
    if (error) throw error;
  });
}
