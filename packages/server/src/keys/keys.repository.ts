import { sql } from "kysely";
import type { Database } from "../store/store.ts";

export function listDataKeys(db: Database) {
  return db.selectFrom("dataKeys").select(["version", "wrapped", "createdAt"]).orderBy("version").execute();
}

export function insertDataKey(db: Database, row: { version: number; wrapped: Uint8Array; createdAt: number }) {
  return db.insertInto("dataKeys").values(row).execute();
}

/** A root-key rotation stores the same data key wrapped anew. */
export function replaceWrappedKey(db: Database, key: { version: number; wrapped: Uint8Array }) {
  return db.updateTable("dataKeys").set({ wrapped: key.wrapped }).where("version", "=", key.version).execute();
}

export async function newestDataKeyVersion(db: Database): Promise<number> {
  const row = await db.selectFrom("dataKeys").select((eb) => eb.fn.max("version").as("newest")).executeTakeFirst();
  return Number(row?.newest ?? 0);
}

export async function countVersionsByKey(db: Database): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom("secretVersions")
    .select(["keyVersion", sql<number>`count(*)`.as("count")])
    .groupBy("keyVersion")
    .execute();
  return new Map(rows.map((row) => [row.keyVersion, Number(row.count)]));
}

export function countVersionsBelow(db: Database, keyVersion: number) {
  return db
    .selectFrom("secretVersions")
    .select(sql<number>`count(*)`.as("count"))
    .where("keyVersion", "<", keyVersion)
    .executeTakeFirstOrThrow()
    .then((row) => Number(row.count));
}

export function selectVersionsBelow(db: Database, keyVersion: number, limit: number) {
  return db
    .selectFrom("secretVersions")
    .select(["secretId", "version", "workspaceId", "ciphertext", "keyVersion"])
    .where("keyVersion", "<", keyVersion)
    .orderBy("secretId")
    .orderBy("version")
    .limit(limit)
    .execute();
}

/** Replaces a ciphertext only if nobody re-wrapped or destroyed it meanwhile. */
export function replaceCiphertext(
  db: Database,
  row: { secretId: string; version: number; fromKeyVersion: number; ciphertext: Uint8Array; keyVersion: number },
) {
  return db
    .updateTable("secretVersions")
    .set({ ciphertext: row.ciphertext, keyVersion: row.keyVersion })
    .where("secretId", "=", row.secretId)
    .where("version", "=", row.version)
    .where("keyVersion", "=", row.fromKeyVersion)
    .execute();
}
