import { sql, type Expression, type SqlBool } from "kysely";
import { execute, prepared } from "../store/prepared.ts";
import type { Database } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";
import { DAY_MS } from "../core/clock.ts";
import { REMINDER_WINDOW_DAYS } from "./rotation.rules.ts";

export type RotationDefaultRow = Tables["rotationDefaults"];

export function listDefaults(db: Database, workspaceId: string) {
  return db.selectFrom("rotationDefaults").selectAll().where("workspaceId", "=", workspaceId).orderBy("label").execute();
}

const defaultInterval = prepared((db: Database, p: { workspaceId: string; label: string }) =>
  db.selectFrom("rotationDefaults").select("intervalDays").where("workspaceId", "=", p.workspaceId).where("label", "=", p.label),
);

export async function findDefaultInterval(db: Database, workspaceId: string, label: string): Promise<number | null> {
  const { rows } = await execute(db, defaultInterval(db, { workspaceId, label }));
  return rows[0]?.intervalDays ?? null;
}

export async function replaceDefaults(db: Database, workspaceId: string, rows: RotationDefaultRow[]): Promise<void> {
  await db.deleteFrom("rotationDefaults").where("workspaceId", "=", workspaceId).execute();
  if (rows.length > 0) await db.insertInto("rotationDefaults").values(rows).execute();
}

/** Secrets joined with their current version and the rotation default of their label: what lists and the job read. */
export function secretsWithSchedule(db: Database) {
  return db
    .selectFrom("secrets")
    .innerJoin("secretVersions", (join) =>
      join.onRef("secretVersions.secretId", "=", "secrets.id").onRef("secretVersions.version", "=", "secrets.currentVersion"),
    )
    .leftJoin("rotationDefaults", (join) =>
      join.onRef("rotationDefaults.workspaceId", "=", "secrets.workspaceId").onRef("rotationDefaults.label", "=", "secrets.label"),
    );
}

/**
 * The effective interval of a `secrets` row joined with `rotation_defaults`
 * on its label (its own interval first), as SQL.
 */
export const effectiveInterval = sql<number | null>`coalesce(secrets.rotation_interval_days, rotation_defaults.interval_days)`;

/**
 * The effective interval of a `secrets` row alone (its own interval first,
 * else its label's default, looked up), as SQL: what a write that moves the
 * row returns, so its answer needs no query of its own.
 */
export const effectiveIntervalOfRow = sql<number | null>`coalesce(secrets.rotation_interval_days, (select rotation_defaults.interval_days from rotation_defaults
  where rotation_defaults.workspace_id = secrets.workspace_id and rotation_defaults.label = secrets.label))`;

/** `remindAt <= now` for a secret joined with its current version: rotation.rules.ts remindOffsetMs, in SQL. */
export function isDueSql(now: number): Expression<SqlBool> {
  const days = sql`cast(${effectiveInterval} as bigint)`;
  return sql<SqlBool>`(${effectiveInterval} is not null and secret_versions.created_at + case when ${effectiveInterval} >= ${2 * REMINDER_WINDOW_DAYS}
    then (${days} - ${REMINDER_WINDOW_DAYS}) * ${DAY_MS} else ${days} * ${DAY_MS / 2} end <= ${now})`;
}

/**
 * Shared secrets past their reminder time, with what was already sent for
 * their current version: what the rotation job works through, in id order.
 */
export function listRotationCandidates(db: Database, now: number, afterId: string, limit: number) {
  const sent = (kind: string) =>
    sql<number>`(select count(*) from rotation_reminders r where r.secret_id = secrets.id and r.version = secrets.current_version and r.kind = ${kind})`;
  return secretsWithSchedule(db)
    .select([
      "secrets.id",
      "secrets.workspaceId",
      "secrets.name",
      "secrets.type",
      "secrets.currentVersion",
      "secrets.autoRotate",
      "secretVersions.createdAt as versionCreatedAt",
      effectiveInterval.as("intervalDays"),
      sent("rotation.due").as("dueSent"),
      sent("rotation.overdue").as("overdueSent"),
    ])
    .where("secrets.scope", "=", "shared")
    .where("secrets.deletedAt", "is", null)
    .where(isDueSql(now))
    .where("secrets.id", ">", afterId)
    .orderBy("secrets.id")
    .limit(limit)
    .execute();
}

/** Records a reminder; false when some node already sent it. */
export async function recordReminder(db: Database, row: Tables["rotationReminders"]): Promise<boolean> {
  const result = await db
    .insertInto("rotationReminders")
    .values(row)
    .onConflict((conflict) => conflict.columns(["secretId", "version", "kind"]).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** The lowest version written since `since`: its predecessor is still inside the grace period. */
export async function oldestVersionSince(db: Database, secretId: string, since: number): Promise<number | null> {
  const row = await db
    .selectFrom("secretVersions")
    .select((eb) => eb.fn.min<number>("version").as("version"))
    .where("secretId", "=", secretId)
    .where("createdAt", ">=", since)
    .executeTakeFirst();
  return row?.version ?? null;
}
