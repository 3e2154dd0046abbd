/** The queries of the lifecycle job and the unused-secrets report: shared secrets only (personal ones are their owner's alone). */
import type { Database } from "../store/store.ts";

/** Every workspace's alert settings. */
export function workspaceAlertSettings(db: Database) {
  return db.selectFrom("workspaces").select(["id", "expiryWarningDays", "unusedAlertDays"]).execute();
}

/** A workspace's live shared secrets that expire by `until` and whose warning has not gone out. */
export function unwarnedExpiries(db: Database, workspaceId: string, until: number) {
  return db
    .selectFrom("secrets")
    .select(["id", "name", "expiresAt"])
    .where("workspaceId", "=", workspaceId)
    .where("scope", "=", "shared")
    .where("deletedAt", "is", null)
    .where("expiryWarnedAt", "is", null)
    .where("expiresAt", "<=", until)
    .orderBy("expiresAt")
    .execute();
}

/** Records the warning of this expiry; false when it went out already (or the expiry changed meanwhile). */
export async function recordExpiryWarning(db: Database, secretId: string, expiresAt: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable("secrets")
    .set({ expiryWarnedAt: now })
    .where("id", "=", secretId)
    .where("expiresAt", "=", expiresAt)
    .where("expiryWarnedAt", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * A workspace's live shared secrets not read or used since `idleSince`
 * (never used: counted from creation), canaries aside (nobody is meant to
 * use them). `unalerted`: only those whose current idle stretch has had no
 * alert yet.
 */
export function unusedSecrets(db: Database, workspaceId: string, idleSince: number, unalerted: boolean) {
  let query = db
    .selectFrom("secrets")
    .select(["id", "name", "label", "type", "createdAt", "lastUsedAt"])
    .where("workspaceId", "=", workspaceId)
    .where("scope", "=", "shared")
    .where("deletedAt", "is", null)
    .where("canary", "=", 0)
    .where((eb) => eb(eb.fn.coalesce("lastUsedAt", "createdAt"), "<=", idleSince));
  // An alert goes out only once the last use is N days old, so a use at or after the alert's time began a new idle stretch.
  if (unalerted) query = query.where((eb) => eb.or([eb("unusedAlertedAt", "is", null), eb("unusedAlertedAt", "<=", eb.fn.coalesce("lastUsedAt", "createdAt"))]));
  return query.orderBy("name").execute();
}

export function recordUnusedAlert(db: Database, secretId: string, now: number) {
  return db.updateTable("secrets").set({ unusedAlertedAt: now }).where("id", "=", secretId).execute();
}
