/**
 * Canaries and expiry (docs/agents.md).
 * - secrets.canary: 1 for a decoy Coffer generated; any value read or use of
 *   it raises `canary.triggered`.
 * - secrets.expires_at: after it the value is neither read nor used
 *   (SECRET_EXPIRED); expiry_warned_at: when the one warning before it went out.
 * - secrets.last_used_at: the last read or use, written in batches (so within
 *   a few seconds, not exactly); unused_alerted_at: when the one "unused"
 *   alert for the current idle stretch went out.
 * - workspaces: how many days before expiry the warning goes out, and after
 *   how many idle days a secret counts as unused (null: no unused alerts).
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("secrets").addColumn("canary", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("secrets").addColumn("expires_at", "bigint").execute();
  await db.schema.alterTable("secrets").addColumn("expiry_warned_at", "bigint").execute();
  await db.schema.alterTable("secrets").addColumn("last_used_at", "bigint").execute();
  await db.schema.alterTable("secrets").addColumn("unused_alerted_at", "bigint").execute();
  await db.schema.alterTable("workspaces").addColumn("expiry_warning_days", "integer", (c) => c.notNull().defaultTo(7)).execute();
  await db.schema.alterTable("workspaces").addColumn("unused_alert_days", "integer").execute();
}
