/**
 * The relay (docs/relay.md): a secret's relay policy (JSON, null: the secret
 * cannot be relayed), a workspace's base-URL routes, and what a token
 * carries for agents: attribution labels and a cap on relayed uses.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("secrets").addColumn("relay_policy", "text").execute();

  // JSON object {agent?, session?}; null: none.
  await db.schema.alterTable("tokens").addColumn("labels", "text").execute();
  // Relayed uses per secret per hour; null: no cap.
  await db.schema.alterTable("tokens").addColumn("relay_uses_per_hour", "integer").execute();

  await db.schema
    .createTable("relay_routes")
    .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    // JSON objects of header / query parameter templates: placeholders, never values.
    .addColumn("headers", "text", (c) => c.notNull())
    .addColumn("query", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("updated_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("relay_routes_pk", ["workspace_id", "name"])
    .execute();
}
