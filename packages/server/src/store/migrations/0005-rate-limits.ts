import type { Kysely } from "kysely";

/**
 * A workspace's own rate limits per token, in requests per second; null
 * follows the server's defaults (20 reads, 5 writes unless configured).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("workspaces").addColumn("reads_per_second", "integer").execute();
  await db.schema.alterTable("workspaces").addColumn("writes_per_second", "integer").execute();
}
