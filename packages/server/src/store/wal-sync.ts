/**
 * Durable SQLite commits without the event loop waiting for the disk
 * (sqlite.ts). In WAL mode a commit is its frames in the WAL: once the WAL
 * is synced the commit is on disk, as if SQLite had synced it inside COMMIT
 * (synchronous=FULL) while holding the JavaScript thread. So the connection
 * runs synchronous=NORMAL, the CommitTracker tells which uses of it
 * committed, and WalSync syncs the WAL with fdatasync on libuv's thread pool
 * before they are acknowledged.
 */
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

/** How a transaction begins: IMMEDIATE takes the write lock at once (sqlite.ts). */
export const BEGIN = "begin immediate";

/** Commits written but not yet synced are synced within this long. */
export const UNSYNCED_COMMIT_DELAY_MS = 100;

export type Commit = "none" | "synced" | "unsynced";

/**
 * What the statements run since the connection was taken committed, from
 * each statement as it is about to run and whether a transaction is open
 * then: a COMMIT, or a statement other than a SELECT outside a transaction,
 * is a commit to sync (a false alarm costs one sync); a transaction marked
 * by commitUnsynced() commits unsynced.
 */
export class CommitTracker {
  #isTransaction: () => boolean;
  #unsynced = false;
  #commit: Commit = "none";

  constructor(isTransaction: () => boolean) {
    this.#isTransaction = isTransaction;
  }

  saw(sql: string): void {
    if (this.#isTransaction()) {
      if (sql === "commit") this.#commit = this.#unsynced && this.#commit !== "synced" ? "unsynced" : "synced";
      if (sql === "commit" || sql === "rollback") this.#unsynced = false;
    } else if (!sql.startsWith("select") && sql !== BEGIN) {
      this.#commit = "synced";
    }
  }

  commitUnsynced(): void {
    if (!this.#isTransaction()) throw new Error("commitUnsynced() is for the transaction under way");
    this.#unsynced = true;
  }

  /** What the connection's user committed, once; the connection is being released. */
  take(): Commit {
    const commit = this.#commit;
    this.#commit = "none";
    if (!this.#isTransaction()) this.#unsynced = false;
    return commit;
  }
}

export interface SyncableFile {
  datasync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Syncs the WAL. Commits that land while a sync is under way share the next
 * one: group commit at the disk. A failed fdatasync is final: Linux may have
 * dropped the unsynced pages and a later sync would still succeed, so every
 * sync after it fails too and the store takes no more writes (as PostgreSQL
 * panics rather than retry a failed fsync).
 */
export class WalSync {
  #open: () => Promise<SyncableFile>;
  #onError: (error: Error) => void;
  #file: Promise<SyncableFile> | undefined;
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;
  #soon: NodeJS.Timeout | null = null;
  #failed: Error | null = null;

  constructor(open: () => Promise<SyncableFile>, onError: (error: Error) => void) {
    this.#open = open;
    this.#onError = onError;
  }

  sync(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#running === null) return this.#start();
    // The sync under way may have begun before this commit was written.
    this.#next ??= this.#running.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#next;
  }

  /** For an unsynced commit: a sync within UNSYNCED_COMMIT_DELAY_MS. After a failed sync, fails at once. */
  async syncSoon(): Promise<void> {
    if (this.#failed) throw this.#failed;
    this.#soon ??= setTimeout(() => {
      this.#soon = null;
      this.sync().catch(() => {}); // a failure is reported once, by #start
    }, UNSYNCED_COMMIT_DELAY_MS);
  }

  /** Syncs what is still unsynced, then closes the WAL. */
  async close(): Promise<void> {
    if (this.#soon !== null) {
      clearTimeout(this.#soon);
      this.#soon = null;
      await this.sync().catch(() => {});
    }
    await Promise.allSettled([this.#running, this.#next]);
    const file = await this.#file?.catch(() => undefined);
    await file?.close();
  }

  #startNext(): Promise<void> {
    this.#next = null;
    return this.sync();
  }

  #start(): Promise<void> {
    const file = (this.#file ??= this.#open());
    // A WAL that cannot be opened (too many open files…) is tried again by the next sync.
    file.catch(() => {
      if (this.#file === file) this.#file = undefined;
    });
    const running = file.then((opened) =>
      opened.datasync().catch((error: Error) => {
        this.#failed ??= new Error(
          `syncing the SQLite WAL failed (${error.message}): commits since the last sync may not be on disk, so the store takes no more writes; restart Coffer once the disk is healthy`,
        );
        this.#onError(this.#failed);
        throw this.#failed;
      }),
    );
    this.#running = running;
    const done = () => {
      if (this.#running === running) this.#running = null;
    };
    running.then(done, done);
    return running;
  }
}

/** The WAL of the database at `path`, opened for syncing. */
export async function openWal(path: string): Promise<FileHandle> {
  const file = await open(`${path}-wal`, "r");
  // Under FULL, SQLite syncs the directory on a new WAL's first sync; so must this, once, or the file's entry could be lost.
  const directory = await open(dirname(path), "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
  return file;
}
