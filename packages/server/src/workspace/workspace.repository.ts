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
    .select(["workspaces.id", "workspaces.name", "workspaces.maxVersions", "workspaces.createdAt", "memberships.role"])
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

export function updateWorkspaceSettings(db: Database, id: string, settings: { maxVersions: number }) {
  return db.updateTable("workspaces").set(settings).where("id", "=", id).execute();
}
