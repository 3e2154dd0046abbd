import type { Kysely } from "kysely";
import type { StoreDialect } from "../dialect.ts";
import { segmentOf } from "../../audit/audit-segment.ts";
import type { AuditRecord } from "../../audit/audit.types.ts";

/** Events moved into one segment at a time. */
const EVENTS_PER_SEGMENT = 1000;

/**
 * The audit log moves from a row per event to a row per appended batch
 * (audit/audit-segment.ts). Existing events move as they are, a thousand to a
 * segment, with their seqs and hashes, so the chain, its head and its anchor
 * verify as before (and an event tampered with before the move still fails).
 * Like every query of the store, this one names columns in camelCase (the
 * store's CamelCasePlugin).
 */
export async function up(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  await db.schema
    .createTable("audit_segments")
    .addColumn("first_seq", "bigint", (c) => c.primaryKey())
    .addColumn("last_seq", "bigint", (c) => c.notNull())
    .addColumn("min_time", "bigint", (c) => c.notNull())
    .addColumn("max_time", "bigint", (c) => c.notNull())
    .addColumn("keys", "text", (c) => c.notNull())
    .addColumn("last_hash", "text", (c) => c.notNull())
    .addColumn("events", dialect.binaryType, (c) => c.notNull())
    .execute();
  // No other index: each would cost every append a page write, and queries scan segments anyway.

  let after = 0;
  for (;;) {
    const rows = (await db.selectFrom("auditEvents").selectAll().where("seq", ">", after).orderBy("seq").limit(EVENTS_PER_SEGMENT).execute()) as AuditRecord[];
    if (rows.length === 0) break;
    const records = rows.map((row) => ({ ...row, seq: Number(row.seq), time: Number(row.time), status: Number(row.status) }));
    await db.insertInto("auditSegments").values(segmentOf(records)).execute();
    after = records.at(-1)!.seq;
  }
  await db.schema.dropTable("audit_events").execute();
}
