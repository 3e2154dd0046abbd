/**
 * Alerts by time alone: retention removes the oldest (they had no retention
 * and grew with every change to a secret), and an instance admin's list,
 * across workspaces, reads the newest from the index instead of sorting the
 * whole table.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("alerts_time").on("alerts").columns(["time", "id"]).execute();
}
