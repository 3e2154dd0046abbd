import type { Database } from "../store/store.ts";

export function findActiveToken(db: Database, tokenHash: string) {
  return db
    .selectFrom("tokens")
    .innerJoin("users", "users.id", "tokens.userId")
    .select([
      "tokens.id as tokenId",
      "tokens.expiresAt",
      "tokens.revokedAt",
      "users.id as userId",
      "users.username",
      "users.isAdmin",
      "users.disabledAt",
    ])
    .where("tokens.tokenHash", "=", tokenHash)
    .executeTakeFirst();
}

export function insertToken(
  db: Database,
  row: { id: string; tokenHash: string; userId: string; parentId: string | null; name: string; expiresAt: number | null; createdAt: number },
) {
  return db.insertInto("tokens").values({ ...row, revokedAt: null }).execute();
}
