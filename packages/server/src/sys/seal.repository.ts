/**
 * How the store's root key is kept, in the `meta` table: nothing for the key
 * file and COFFER_ROOT_KEY (interchangeable: both hold the key itself), or a
 * `seal` row for Shamir shares. Every node reads it, so all agree.
 */
import type { Database } from "../store/store.ts";

export interface ShamirConfig {
  shares: number;
  threshold: number;
  /** The current split's id (hex), printed inside each share: shares of older splits are told apart. */
  shareSet: string;
}

export interface StoredSeal {
  initialized: boolean;
  /** null: the root key is a key file or COFFER_ROOT_KEY. */
  shamir: ShamirConfig | null;
}

const SEAL_KEY = "seal";

export async function readSealConfig(db: Database): Promise<StoredSeal> {
  const rows = await db.selectFrom("meta").select(["key", "value"]).where("key", "in", ["initialized_at", SEAL_KEY]).execute();
  const seal = rows.find((row) => row.key === SEAL_KEY);
  return { initialized: rows.some((row) => row.key === "initialized_at"), shamir: seal ? (JSON.parse(seal.value) as ShamirConfig) : null };
}

export async function writeShamirConfig(db: Database, config: ShamirConfig): Promise<void> {
  const value = JSON.stringify(config);
  await db.insertInto("meta").values({ key: SEAL_KEY, value }).onConflict((oc) => oc.column("key").doUpdateSet({ value })).execute();
}
