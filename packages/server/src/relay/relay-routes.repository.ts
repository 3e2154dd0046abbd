import type { Database } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";

export type RelayRouteRow = Tables["relayRoutes"];

export function listRoutes(db: Database, workspaceId: string) {
  return db.selectFrom("relayRoutes").selectAll().where("workspaceId", "=", workspaceId).orderBy("name").execute();
}

export function findRoute(db: Database, workspaceId: string, name: string) {
  return db.selectFrom("relayRoutes").selectAll().where("workspaceId", "=", workspaceId).where("name", "=", name).executeTakeFirst();
}

/** Creates the route, or replaces its templates keeping when and by whom it was created. */
export async function putRoute(db: Database, row: RelayRouteRow): Promise<void> {
  const { target, headers, query, description, updatedAt, updatedBy } = row;
  await db
    .insertInto("relayRoutes")
    .values(row)
    .onConflict((conflict) => conflict.columns(["workspaceId", "name"]).doUpdateSet({ target, headers, query, description, updatedAt, updatedBy }))
    .execute();
}

export async function deleteRoute(db: Database, workspaceId: string, name: string): Promise<boolean> {
  const result = await db.deleteFrom("relayRoutes").where("workspaceId", "=", workspaceId).where("name", "=", name).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
