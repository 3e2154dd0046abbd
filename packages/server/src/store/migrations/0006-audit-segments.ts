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
  // SQLite runs migrations outside a transaction (no transactional DDL in Kysely's adapter): a copy cut short by a
  // crash is made again from the start, and once audit_events is gone the copy was whole.
  await db.schema
    .createTable("audit_segments")
    .ifNotExists()
    .addColumn("first_seq", dialect.rowKeyType, (c) => c.primaryKey())
    .addColumn("last_seq", "bigint", (c) => c.notNull())
    .addColumn("min_time", "bigint", (c) => c.notNull())
    .addColumn("max_time", "bigint", (c) => c.notNull())
    .addColumn("keys", "text", (c) => c.notNull())
    .addColumn("last_hash", "text", (c) => c.notNull())
    .addColumn("events", dialect.binaryType, (c) => c.notNull())
    .execute();
  // No other index: each would cost every append a page write, and queries scan segments anyway.
  const tables = await db.introspection.getTables();
  if (!tables.some((table) => table.name === "audit_events")) return;
  await db.deleteFrom("auditSegments").execute();
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
