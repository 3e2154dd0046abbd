/**
 * A segment's events (one audit batch, kilobytes of JSON lines) are
 * compressed by PostgreSQL as they go in; lz4 does it in about half the time
 * pglz takes, and every audited request pays its share. Segments already
 * stored keep their compression; both read back alike.
 */
import type { Kysely } from "kysely";
import type { StoreDialect } from "../dialect.ts";

export async function up(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  await dialect.compressQuickly(db, "audit_segments", "events");
}
