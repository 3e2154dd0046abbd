/**
 * Rotation of secret values: an interval per secret (or a workspace default
 * per label), self-rotation for generated types, and the reminders already
 * sent, so every node sends each one once.
 */
import type { Kysely } from "kysely";
import type { StoreDialect } from "../dialect.ts";

export async function up(db: Kysely<any>, _dialect: StoreDialect): Promise<void> {
  await db.schema.alterTable("secrets").addColumn("rotation_interval_days", "integer").execute();
  await db.schema.alterTable("secrets").addColumn("auto_rotate", "integer", (c) => c.notNull().defaultTo(0)).execute();

  await db.schema
    .createTable("rotation_defaults")
    .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id").onDelete("cascade"))
    .addColumn("label", "text", (c) => c.notNull())
    .addColumn("interval_days", "integer", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("updated_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("rotation_defaults_pk", ["workspace_id", "label"])
    .execute();

  await db.schema
    .createTable("rotation_reminders")
    .addColumn("secret_id", "text", (c) => c.notNull().references("secrets.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("sent_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("rotation_reminders_pk", ["secret_id", "version", "kind"])
    .execute();
}
