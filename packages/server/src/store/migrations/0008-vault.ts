import type { Kysely } from "kysely";

/**
 * What Vault's clients expect of tokens and policies.
 * - tokens: renewable, with the TTL a renewal grants by default, a hard
 *   end (explicit_max_ttl, or Vault's 768h system maximum), a period
 *   (periodic tokens), Vault's free-form meta, and the names of the
 *   policies it was created with (read again at each load, so a changed
 *   policy applies to existing tokens, as in Vault).
 * - vault_policies: ACL policies as written (HCL or JSON), per workspace.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("tokens").addColumn("renewable", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("tokens").addColumn("ttl_seconds", "integer").execute();
  await db.schema.alterTable("tokens").addColumn("max_expires_at", "bigint").execute();
  await db.schema.alterTable("tokens").addColumn("period_seconds", "integer").execute();
  await db.schema.alterTable("tokens").addColumn("meta", "text").execute();
  await db.schema.alterTable("tokens").addColumn("policies", "text").execute();
  await db.schema
    .createTable("vault_policies")
    .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("policy", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("vault_policies_pk", ["workspace_id", "name"])
    .execute();
}
