/**
 * On a store several nodes share, the change feed drops a cached secret on
 * every node soon after another node's write commits; but NOTIFY arrives
 * asynchronously, so "soon" can be after the writer already answered, and a
 * client that then reads through another node could get the older version.
 * A cached current version is therefore confirmed against the store before
 * it is served. The confirmations of all reads waiting at one moment share
 * one query (the next one starts when the previous returns), so a busy node
 * pays a fraction of a point query per read and one round trip of latency.
 * The query starts after the read did, so it sees every write answered
 * before the read began (PostgreSQL's read committed snapshot). An audited
 * read of a secret's current version makes the same check in the statement
 * that records it instead (SecretReader.unconfirmedCurrent,
 * AuditLog.recordIfCurrent).
 */
import type { Database } from "../store/store.ts";
import { findStamps } from "./secret.repository.ts";

export interface SecretStamp {
  currentVersion: number;
  updatedAt: number;
  deletedAt: number | null;
}

/** Ids per query: far below PostgreSQL's parameter limit, and more than a node has reads in flight. */
const MAX_BATCH = 1000;

export class SecretFreshness {
  #db: Database;
  #waiting = new Map<string, ((stamp: SecretStamp | undefined | Error) => void)[]>();
  #running = false;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Whether `cached` is still the secret as stored (false when it changed or is gone). */
  async isCurrent(id: string, cached: SecretStamp): Promise<boolean> {
    const stored = await new Promise<SecretStamp | undefined | Error>((resolve) => {
      const waiters = this.#waiting.get(id);
      if (waiters) waiters.push(resolve);
      else this.#waiting.set(id, [resolve]);
      if (!this.#running) void this.#run();
    });
    if (stored instanceof Error) throw stored;
    return stored !== undefined && stored.currentVersion === cached.currentVersion && stored.updatedAt === cached.updatedAt && stored.deletedAt === cached.deletedAt;
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (this.#waiting.size > 0) {
      const batch = new Map<string, ((stamp: SecretStamp | undefined | Error) => void)[]>();
      for (const [id, waiters] of this.#waiting) {
        if (batch.size === MAX_BATCH) break;
        batch.set(id, waiters);
        this.#waiting.delete(id);
      }
      try {
        const rows = await findStamps(this.#db, [...batch.keys()]);
        const byId = new Map(rows.map((row) => [row.id, row]));
        for (const [id, waiters] of batch) for (const resolve of waiters) resolve(byId.get(id));
      } catch (error) {
        for (const waiters of batch.values()) for (const resolve of waiters) resolve(error as Error);
      }
    }
    this.#running = false;
  }
}
