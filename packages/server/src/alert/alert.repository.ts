import { sql } from "kysely";
import { execute, prepared, runsDirectly } from "../store/prepared.ts";
import type { Database } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";

export type WebhookRow = Tables["webhooks"];
export type DeliveryRow = Tables["webhookDeliveries"];

const insertAlert = prepared((db: Database, p: Tables["alerts"]) =>
  db.insertInto("alerts").values({ id: p.id, workspaceId: p.workspaceId, type: p.type, time: p.time, message: p.message, details: p.details }),
);

/** PostgreSQL's insert of any number of alerts: one statement text, parsed once per connection, the rows one JSON parameter. */
const insertAlertRows = prepared((db: Database, p: { rows: string }) => ({
  compile: () =>
    sql`insert into alerts (id, workspace_id, type, "time", message, details)
      select a.id, a."workspaceId", a.type, a."time", a.message, a.details
      from jsonb_to_recordset(${p.rows}::jsonb) as a (id text, "workspaceId" text, type text, "time" bigint, message text, details text)`.compile(db),
}));

/**
 * A batch of updates is a batch of alerts. Where a statement is a round trip
 * (PostgreSQL) they go in with one statement, sent with the batch's other
 * writes (prepared.ts, execute); where it is a call (SQLite) one prepared
 * statement a row costs less than building, compiling and preparing an
 * insert of that many rows, a statement of its own for every batch size.
 */
export async function insertAlerts(db: Database, rows: Tables["alerts"][]): Promise<void> {
  if (runsDirectly(db)) for (const row of rows) await execute(db, insertAlert(db, row));
  else await execute(db, insertAlertRows(db, { rows: JSON.stringify(rows) }));
}

/** Removes up to `limit` alerts made before `before`, oldest first (index alerts_time); how many. */
export async function deleteAlertsBefore(db: Database, before: number, limit: number): Promise<number> {
  const oldest = db.selectFrom("alerts").select("id").where("time", "<", before).orderBy("time").limit(limit);
  const { numDeletedRows } = await db.deleteFrom("alerts").where("id", "in", oldest).executeTakeFirst();
  return Number(numDeletedRows);
}

/** Removes up to `limit` of a webhook's deliveries made before `before` and no longer pending (index webhook_deliveries_webhook); how many. */
export async function deleteDeliveriesBefore(db: Database, webhookId: string, before: number, limit: number): Promise<number> {
  const done = db
    .selectFrom("webhookDeliveries")
    .select("id")
    .where("webhookId", "=", webhookId)
    .where("createdAt", "<", before)
    .where("state", "<>", "pending")
    .orderBy("createdAt")
    .limit(limit);
  const { numDeletedRows } = await db.deleteFrom("webhookDeliveries").where("id", "in", done).executeTakeFirst();
  return Number(numDeletedRows);
}

export function webhookIds(db: Database) {
  return db.selectFrom("webhooks").select("id").execute();
}

/** A workspace's alerts and the instance-wide ones every workspace hears; with workspaceId null, all of them. */
export function recentAlerts(db: Database, workspaceId: string | null, broadcast: readonly string[], limit: number) {
  let query = db.selectFrom("alerts").selectAll();
  if (workspaceId !== null) {
    query = query.where((eb) => eb.or([eb("workspaceId", "=", workspaceId), eb.and([eb("workspaceId", "is", null), eb("type", "in", broadcast)])]));
  }
  return query.orderBy("time", "desc").orderBy("id", "desc").limit(limit).execute();
}

export function findAlert(db: Database, id: string) {
  return db.selectFrom("alerts").selectAll().where("id", "=", id).executeTakeFirst();
}

export function insertWebhook(db: Database, row: WebhookRow) {
  return db.insertInto("webhooks").values(row).execute();
}

export function listWebhooks(db: Database, workspaceId: string) {
  return db.selectFrom("webhooks").selectAll().where("workspaceId", "=", workspaceId).orderBy("createdAt").execute();
}

/** Every column of a webhook, named: a statement that names its columns is prepared on PostgreSQL (prepared.ts). */
const WEBHOOK_COLUMNS = ["id", "workspaceId", "url", "events", "signingKey", "keyVersion", "createdAt", "createdBy"] as const satisfies readonly (keyof WebhookRow)[];

/** Compiled once (prepared.ts): every batch of changes' alerts looks its workspace's webhooks up. */
const workspaceWebhooks = prepared((db: Database, p: { workspaceId: string }) => db.selectFrom("webhooks").select(WEBHOOK_COLUMNS).where("workspaceId", "=", p.workspaceId));

/** The webhooks that hear an alert of this workspace (or, with null, of every workspace). */
export async function webhooksFor(db: Database, workspaceId: string | null): Promise<WebhookRow[]> {
  if (workspaceId === null) return db.selectFrom("webhooks").selectAll().execute();
  return (await execute(db, workspaceWebhooks(db, { workspaceId }))).rows;
}

export function findWebhook(db: Database, id: string) {
  return db.selectFrom("webhooks").selectAll().where("id", "=", id).executeTakeFirst();
}

export function deleteWebhook(db: Database, workspaceId: string, id: string) {
  return db.deleteFrom("webhooks").where("workspaceId", "=", workspaceId).where("id", "=", id).executeTakeFirst();
}

export function insertDeliveries(db: Database, rows: DeliveryRow[]) {
  return rows.length === 0 ? Promise.resolve() : db.insertInto("webhookDeliveries").values(rows).execute();
}

export function listDeliveries(db: Database, webhookId: string, limit: number) {
  return db.selectFrom("webhookDeliveries").selectAll().where("webhookId", "=", webhookId).orderBy("createdAt", "desc").orderBy("id", "desc").limit(limit).execute();
}

/** Deliveries due for an attempt: new ones and retries whose time came (also those a stopped node left behind). */
export function dueDeliveries(db: Database, now: number, limit: number) {
  return db.selectFrom("webhookDeliveries").selectAll().where("state", "=", "pending").where("nextAttemptAt", "<=", now).orderBy("nextAttemptAt").limit(limit).execute();
}

/**
 * Takes a delivery for one attempt: succeeds for one node only, and pushes its
 * next attempt out by the lease, so a node that dies mid-attempt leaves it to
 * be retried.
 */
export async function claimDelivery(db: Database, row: DeliveryRow, leaseUntil: number): Promise<boolean> {
  const result = await db
    .updateTable("webhookDeliveries")
    .set({ nextAttemptAt: leaseUntil })
    .where("id", "=", row.id)
    .where("state", "=", "pending")
    .where("nextAttemptAt", "=", row.nextAttemptAt)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function recordAttempt(db: Database, id: string, update: Pick<DeliveryRow, "state" | "attempts" | "lastStatus" | "lastError" | "nextAttemptAt" | "updatedAt">) {
  return db.updateTable("webhookDeliveries").set(update).where("id", "=", id).execute();
}

/** The workspaces a user belongs to: where a failed login for them is worth telling. */
export async function workspacesOfUsername(db: Database, username: string): Promise<string[]> {
  const rows = await db
    .selectFrom("memberships")
    .innerJoin("users", "users.id", "memberships.userId")
    .select("memberships.workspaceId")
    .where("users.username", "=", username)
    .execute();
  return rows.map((row) => row.workspaceId);
}
