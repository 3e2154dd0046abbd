/**
 * Approvals (docs/agents.md): a secret's setting for who must be approved by
 * a person before each use (none, agents, all), and the approval requests
 * themselves — a waiting use, or an agent asking for a grant.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("secrets").addColumn("approval", "text", (c) => c.notNull().defaultTo("none")).execute();

  await db.schema
    .createTable("approvals")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id").onDelete("cascade"))
    // Not a foreign key: a request outlives the secret's permanent deletion as a record of what was asked.
    .addColumn("secret_id", "text", (c) => c.notNull())
    .addColumn("secret_name", "text", (c) => c.notNull())
    // "use": a relayed call or signature waits for it; "grant": an agent asks for a level on the secret.
    .addColumn("kind", "text", (c) => c.notNull())
    // use: relay | hmac-sign; grant: the level asked for.
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("requester_kind", "text", (c) => c.notNull())
    .addColumn("requester_id", "text", (c) => c.notNull())
    .addColumn("requester_name", "text", (c) => c.notNull())
    .addColumn("token_id", "text", (c) => c.notNull())
    // The token's attribution labels, JSON {agent?, session?}.
    .addColumn("labels", "text", (c) => c.notNull())
    // pending → approved | denied | expired.
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("decided_at", "bigint")
    .addColumn("decided_by", "text")
    .addColumn("decided_by_name", "text")
    // Approved for a while: later uses by the same token need no new approval until then; null: this once.
    .addColumn("valid_until", "bigint")
    .execute();
  await db.schema.createIndex("approvals_by_workspace").on("approvals").columns(["workspace_id", "status", "created_at"]).execute();
  await db.schema.createIndex("approvals_standing").on("approvals").columns(["secret_id", "token_id", "status"]).execute();
}
