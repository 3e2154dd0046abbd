import type { Database } from "../store/store.ts";

export function listPolicyNames(db: Database, workspaceId: string) {
  return db.selectFrom("vaultPolicies").select("name").where("workspaceId", "=", workspaceId).orderBy("name").execute();
}

export function findPolicy(db: Database, workspaceId: string, name: string) {
  return db.selectFrom("vaultPolicies").selectAll().where("workspaceId", "=", workspaceId).where("name", "=", name).executeTakeFirst();
}

export function findPolicies(db: Database, workspaceId: string, names: string[]) {
  return db.selectFrom("vaultPolicies").select(["name", "policy"]).where("workspaceId", "=", workspaceId).where("name", "in", names).execute();
}

export async function upsertPolicy(db: Database, row: { workspaceId: string; name: string; policy: string; now: number }): Promise<void> {
  const updated = await db.updateTable("vaultPolicies").set({ policy: row.policy, updatedAt: row.now }).where("workspaceId", "=", row.workspaceId).where("name", "=", row.name).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) {
    await db.insertInto("vaultPolicies").values({ workspaceId: row.workspaceId, name: row.name, policy: row.policy, createdAt: row.now, updatedAt: row.now }).execute();
  }
}

export async function deletePolicy(db: Database, workspaceId: string, name: string): Promise<number> {
  const deleted = await db.deleteFrom("vaultPolicies").where("workspaceId", "=", workspaceId).where("name", "=", name).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
