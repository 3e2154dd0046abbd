/**
 * Per-version lifecycle and per-secret settings, as Vault's KV v2 has them:
 * a version can be soft-deleted (restorable), deleted on a schedule
 * (`deleted_at` set in the future at write time) or destroyed (its
 * ciphertext wiped for good); a secret can require check-and-set, keep its
 * own number of versions, delete its versions after a while, and carry
 * custom metadata. Workspaces get the same defaults.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("secret_versions").addColumn("deleted_at", "bigint").execute();
  await db.schema.alterTable("secret_versions").addColumn("destroyed_at", "bigint").execute();

  await db.schema.alterTable("secrets").addColumn("cas_required", "integer", (c) => c.notNull().defaultTo(0)).execute();
  // null: the workspace's maxVersions.
  await db.schema.alterTable("secrets").addColumn("max_versions", "integer").execute();
  // Seconds; 0: never (or the workspace's).
  await db.schema.alterTable("secrets").addColumn("delete_version_after", "bigint", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("secrets").addColumn("custom_metadata", "text", (c) => c.notNull().defaultTo("{}")).execute();

  await db.schema.alterTable("workspaces").addColumn("cas_required", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("workspaces").addColumn("delete_version_after", "bigint", (c) => c.notNull().defaultTo(0)).execute();
}
