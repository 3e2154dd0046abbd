import type { Database } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";

export type TokenRow = Tables["tokens"];

/** The token with the identity behind it, user or service account, in one query. */
export function findToken(db: Database, tokenHash: string) {
  return db
    .selectFrom("tokens")
    .leftJoin("users", "users.id", "tokens.principalId")
    .leftJoin("serviceAccounts", "serviceAccounts.id", "tokens.principalId")
    .selectAll("tokens")
    .select([
      "users.username",
      "users.isAdmin",
      "users.disabledAt as userDisabledAt",
      "serviceAccounts.name as serviceAccountName",
      "serviceAccounts.workspaceId as serviceAccountWorkspaceId",
      "serviceAccounts.disabledAt as serviceAccountDisabledAt",
    ])
    .where("tokens.tokenHash", "=", tokenHash)
    .executeTakeFirst();
}

export function findTokenById(db: Database, id: string) {
  return db.selectFrom("tokens").selectAll().where("id", "=", id).executeTakeFirst();
}

export function findTokenByHash(db: Database, tokenHash: string) {
  return db.selectFrom("tokens").selectAll().where("tokenHash", "=", tokenHash).executeTakeFirst();
}

export function updateExpiry(db: Database, id: string, expiresAt: number) {
  return db.updateTable("tokens").set({ expiresAt }).where("id", "=", id).execute();
}

export function insertToken(db: Database, row: Omit<TokenRow, "revokedAt">) {
  return db.insertInto("tokens").values({ ...row, revokedAt: null }).execute();
}

/** A principal's tokens in force at `now`: neither revoked nor expired. */
export function listTokensOf(db: Database, principalId: string, now: number) {
  return db
    .selectFrom("tokens")
    .selectAll()
    .where("principalId", "=", principalId)
    .where("revokedAt", "is", null)
    .where((eb) => eb.or([eb("expiresAt", "is", null), eb("expiresAt", ">", now)]))
    .orderBy("createdAt", "desc")
    .execute();
}

/** Removes up to `limit` tokens that expired or were revoked before `before` (indexes tokens_expires, tokens_revoked); how many. */
export async function deleteTokensEndedBefore(db: Database, before: number, limit: number): Promise<number> {
  const ended = db
    .selectFrom("tokens")
    .select("id")
    .where((eb) => eb.or([eb("expiresAt", "<", before), eb("revokedAt", "<", before)]))
    .limit(limit);
  const { numDeletedRows } = await db.deleteFrom("tokens").where("id", "in", ended).executeTakeFirst();
  return Number(numDeletedRows);
}

export async function tokenIdsOf(db: Database, principalId: string): Promise<string[]> {
  return (await db.selectFrom("tokens").select("id").where("principalId", "=", principalId).execute()).map((row) => row.id);
}

/** Revokes the tokens and, level by level, every token minted from them. */
export async function revokeTree(db: Database, ids: string[], at: number): Promise<number> {
  let revoked = 0;
  let frontier = ids;
  while (frontier.length > 0) {
    const result = await db.updateTable("tokens").set({ revokedAt: at }).where("id", "in", frontier).where("revokedAt", "is", null).executeTakeFirst();
    revoked += Number(result.numUpdatedRows);
    const children = await db.selectFrom("tokens").select("id").where("parentId", "in", frontier).where("revokedAt", "is", null).execute();
    frontier = children.map((row) => row.id);
  }
  return revoked;
}
