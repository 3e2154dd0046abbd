import type { Database } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";

export function findServiceAccount(db: Database, workspaceId: string, ref: string) {
  return db
    .selectFrom("serviceAccounts")
    .selectAll()
    .where("workspaceId", "=", workspaceId)
    .where((eb) => eb.or([eb("id", "=", ref), eb("name", "=", ref)]))
    .executeTakeFirst();
}

export function listServiceAccounts(db: Database, workspaceId: string) {
  return db.selectFrom("serviceAccounts").selectAll().where("workspaceId", "=", workspaceId).where("disabledAt", "is", null).orderBy("name").execute();
}

export function insertServiceAccount(db: Database, row: Tables["serviceAccounts"]) {
  return db.insertInto("serviceAccounts").values(row).execute();
}

export function findServiceAccountById(db: Database, id: string) {
  return db.selectFrom("serviceAccounts").selectAll().where("id", "=", id).executeTakeFirst();
}

export function disableServiceAccount(db: Database, id: string, at: number) {
  return db.updateTable("serviceAccounts").set({ disabledAt: at }).where("id", "=", id).execute();
}
