import type { Database } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";

export type WorkspaceRow = Tables["workspaces"];

export function findWorkspace(db: Database, idOrName: string) {
  return db
    .selectFrom("workspaces")
    .selectAll()
    .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
    .executeTakeFirst();
}

export function findRole(db: Database, workspaceId: string, userId: string) {
  return db
    .selectFrom("memberships")
    .select("role")
    .where("workspaceId", "=", workspaceId)
    .where("userId", "=", userId)
    .executeTakeFirst();
}

export function listWorkspacesOf(db: Database, userId: string, all: boolean) {
  let query = db
    .selectFrom("workspaces")
    .leftJoin("memberships", (join) =>
      join.onRef("memberships.workspaceId", "=", "workspaces.id").on("memberships.userId", "=", userId),
    )
    .select([
      "workspaces.id",
      "workspaces.name",
      "workspaces.maxVersions",
      "workspaces.casRequired",
      "workspaces.deleteVersionAfter",
      "workspaces.readsPerSecond",
      "workspaces.expiryWarningDays",
      "workspaces.unusedAlertDays",
      "workspaces.writesPerSecond",
      "workspaces.createdAt",
      "memberships.role",
    ])
    .orderBy("workspaces.name");
  if (!all) query = query.where("memberships.userId", "is not", null);
  return query.execute();
}

export function insertWorkspace(db: Database, row: WorkspaceRow) {
  return db.insertInto("workspaces").values(row).execute();
}

export function insertMembership(db: Database, row: Tables["memberships"]) {
  return db.insertInto("memberships").values(row).execute();
}

export function updateWorkspaceSettings(db: Database, id: string, settings: Pick<WorkspaceRow, "maxVersions" | "casRequired" | "deleteVersionAfter" | "readsPerSecond" | "writesPerSecond" | "expiryWarningDays" | "unusedAlertDays">) {
  return db.updateTable("workspaces").set(settings).where("id", "=", id).execute();
}

/** Removes a workspace; its members, groups, service accounts, secrets, versions and grants go with it (foreign keys cascade). */
export function deleteWorkspace(db: Database, id: string) {
  return db.deleteFrom("workspaces").where("id", "=", id).execute();
}

export async function tokenIdsBoundTo(db: Database, workspaceId: string): Promise<string[]> {
  return (await db.selectFrom("tokens").select("id").where("workspaceId", "=", workspaceId).where("revokedAt", "is", null).execute()).map((row) => row.id);
}

export function insertGroup(db: Database, row: Tables["groups"]) {
  return db.insertInto("groups").values(row).execute();
}

export function listMembers(db: Database, workspaceId: string) {
  return db
    .selectFrom("memberships")
    .innerJoin("users", "users.id", "memberships.userId")
    .select(["users.id", "users.username", "users.disabledAt", "memberships.role", "memberships.createdAt"])
    .where("memberships.workspaceId", "=", workspaceId)
    .orderBy("users.username")
    .execute();
}

export async function countPersonalSecrets(db: Database, workspaceId: string): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom("secrets")
    .select(["ownerId", (eb) => eb.fn.countAll<number>().as("count")])
    .where("workspaceId", "=", workspaceId)
    .where("scope", "=", "personal")
    .groupBy("ownerId")
    .execute();
  return new Map(rows.map((row) => [row.ownerId, Number(row.count)]));
}

export async function upsertMembership(db: Database, row: Tables["memberships"]) {
  await db.deleteFrom("memberships").where("workspaceId", "=", row.workspaceId).where("userId", "=", row.userId).execute();
  await db.insertInto("memberships").values(row).execute();
}

/** Removes a user from a workspace, with its group memberships and grants there. */
export async function deleteMembership(db: Database, workspaceId: string, userId: string) {
  const groups = db.selectFrom("groups").select("id").where("workspaceId", "=", workspaceId);
  await db.deleteFrom("groupMembers").where("memberId", "=", userId).where("groupId", "in", groups).execute();
  await db.deleteFrom("grants").where("workspaceId", "=", workspaceId).where("subjectId", "=", userId).execute();
  return db.deleteFrom("memberships").where("workspaceId", "=", workspaceId).where("userId", "=", userId).executeTakeFirst();
}

export function findUserByRef(db: Database, ref: string) {
  return db
    .selectFrom("users")
    .select(["id", "username", "isAdmin", "disabledAt"])
    .where((eb) => eb.or([eb("id", "=", ref), eb("username", "=", ref)]))
    .executeTakeFirst();
}
