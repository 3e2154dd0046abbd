/** The approvals table: requests, their decisions, and standing approvals ("for a while"). */
import type { Database } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";

export type ApprovalRow = Tables["approvals"];

export function insertApproval(db: Database, row: ApprovalRow) {
  return db.insertInto("approvals").values(row).execute();
}

export function findApproval(db: Database, workspaceId: string, id: string) {
  return db.selectFrom("approvals").selectAll().where("workspaceId", "=", workspaceId).where("id", "=", id).executeTakeFirst();
}

export function listApprovals(db: Database, workspaceId: string, status: string | undefined, limit: number) {
  let query = db.selectFrom("approvals").selectAll().where("workspaceId", "=", workspaceId);
  if (status !== undefined) query = query.where("status", "=", status);
  return query.orderBy("createdAt", "desc").limit(limit).execute();
}

/** An approval for a while that still covers this token's use of this secret. */
export function findStanding(db: Database, secretId: string, tokenId: string, now: number) {
  return db
    .selectFrom("approvals")
    .select("id")
    .where("secretId", "=", secretId)
    .where("tokenId", "=", tokenId)
    .where("status", "=", "approved")
    .where("kind", "=", "use")
    .where("validUntil", ">", now)
    .executeTakeFirst();
}

/** Decides a pending request; false when it was no longer pending (decided elsewhere, or expired). */
export async function decide(db: Database, id: string, change: Pick<ApprovalRow, "status" | "decidedAt" | "decidedBy" | "decidedByName" | "validUntil">): Promise<boolean> {
  const result = await db.updateTable("approvals").set(change).where("id", "=", id).where("status", "=", "pending").executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
