/**
 * Tokens by when they ended: the tidy removes those expired or revoked a
 * while ago (every login and every minted child token is a row, and none
 * was ever removed), and finds them through these instead of a scan.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("tokens_expires").on("tokens").column("expires_at").execute();
  await db.schema.createIndex("tokens_revoked").on("tokens").column("revoked_at").execute();
}
