import type { Database } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";

export type UserRow = Tables["users"];

/** By id or username. */
export function findUser(db: Database, ref: string) {
  return db
    .selectFrom("users")
    .selectAll()
    .where((eb) => eb.or([eb("id", "=", ref), eb("username", "=", ref)]))
    .executeTakeFirst();
}

export function findUserByUsername(db: Database, username: string) {
  return db.selectFrom("users").selectAll().where("username", "=", username).executeTakeFirst();
}

export function listUsers(db: Database) {
  return db.selectFrom("users").selectAll().orderBy("username").execute();
}

export function insertUser(db: Database, row: UserRow) {
  return db.insertInto("users").values(row).execute();
}

export function updateUser(db: Database, id: string, set: Partial<Pick<UserRow, "disabledAt" | "passwordHash" | "isAdmin">>) {
  return db.updateTable("users").set(set).where("id", "=", id).execute();
}
