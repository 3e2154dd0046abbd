/**
 * The embedded store serves one server (changes.ts: its caches hear only its
 * own writes). A second server on the same data directory would answer from
 * caches that never learn of the first one's changes: a token revoked there
 * still accepted here, a secret's old value still served. So an open store
 * holds an exclusive lock on a file beside it for as long as it is open, and
 * a second open fails at once. The lock is SQLite's own, on a database that
 * holds nothing: a file lock the system releases when the process ends,
 * however it ends, so a crash leaves nothing stale to clear.
 */
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

export const LOCK_FILE = "coffer.lock";
const SQLITE_BUSY = 5;

/** The store in `dataDir` is open elsewhere. */
export class StoreInUseError extends Error {
  override name = "StoreInUseError";
}

/** Locks the embedded store in `dataDir`; the returned function lets it go (and does nothing after). */
export function lockStore(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  // Created by hand first: SQLite would create it with the umask's mode, and the data directory's files are 0600.
  closeSync(openSync(path, "a", 0o600));
  const lock = new DatabaseSync(path);
  try {
    // The journal in memory: on disk, the transaction that holds the lock would leave a coffer.lock-journal beside it.
    lock.exec("PRAGMA journal_mode = MEMORY; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE");
  } catch (error) {
    lock.close();
    if ((error as { errcode?: number }).errcode !== SQLITE_BUSY) throw error;
    throw new StoreInUseError(
      `the store in ${dataDir} is open in another Coffer process (a server, or coffer operator migrate or restore): stop it first. ` +
        "Several servers share one store on PostgreSQL (--database-url), never the embedded one",
    );
  }
  // Closing a store twice is no error (a test's after-hook may close what the test closed).
  return () => {
    if (lock.isOpen) lock.close();
  };
}
