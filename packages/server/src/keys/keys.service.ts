/**
 * Data-key lifecycle: load the keyring at start (or unseal), add a version on
 * rotation, and re-wrap every stored secret version under the newest key,
 * online and in batches, while reads keep working (old keys stay in the
 * keyring). Root-key rotation re-wraps the keyring alone.
 *
 * A node whose root key no longer opens the stored keyring (another node
 * rotated it) seals itself when it hears of the change, rather than serve on
 * and wrap a new data key under a stale root.
 */
import type { Clock } from "../core/clock.ts";
import { CofferError } from "../core/errors.ts";
import { Serial } from "../core/serial.ts";
import { keyVersionOfSealed, Keyring, KeyringSealedError, RootKeyMismatchError, UnknownKeyVersionError, type Sealed, type SecretContext } from "../crypto/keyring.ts";
import type { Database, Store } from "../store/store.ts";
import {
  countVersionsBelow,
  countVersionsByKey,
  insertDataKey,
  listDataKeys,
  newestDataKeyVersion,
  replaceCiphertext,
  replaceWrappedKey,
  selectVersionsBelow,
} from "./keys.repository.ts";

const REWRAP_BATCH = 200;

export interface RewrapProgress {
  state: "idle" | "running" | "done" | "failed";
  targetKeyVersion: number;
  done: number;
  total: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
}

export interface KeyStatus {
  keyVersion: number;
  keys: { version: number; createdAt: number; secretVersions: number }[];
  rewrap: RewrapProgress;
}

export class KeyService {
  #store: Store;
  #keyring: Keyring;
  #clock: Clock;
  #log: (message: string) => void;
  #rewrap: RewrapProgress = { state: "idle", targetKeyVersion: 0, done: 0, total: 0, startedAt: null, finishedAt: null, error: null };
  #running: Promise<void> | null = null;
  /**
   * One keyring change at a time on this node: a reload that heard of our
   * own root-key rotation must not check the stored keyring against the old
   * root key before the rotation switched to the new one.
   */
  #serial = new Serial();

  constructor(store: Store, keyring: Keyring, clock: Clock, log: (message: string) => void) {
    this.#store = store;
    this.#keyring = keyring;
    this.#clock = clock;
    this.#log = log;
    store.changes.subscribe((change) => {
      if (change.kind === "keyring" || change.kind === "all") void this.reload().catch(() => {});
    });
  }

  get keyVersion(): number {
    return this.#keyring.newestVersion;
  }

  /** Whether the keyring holds no keys: the node answers SEALED. */
  get sealed(): boolean {
    return this.#keyring.sealed;
  }

  /** Opens the keyring with a root key; throws RootKeyMismatchError (and stays sealed) when it does not open the stored keys. */
  unlock(rootKey: Buffer): Promise<void> {
    return this.#serial.run(async () => this.#keyring.unlock(rootKey, await listDataKeys(this.#store.db)));
  }

  /** Throws RootKeyMismatchError unless `candidate` opens every stored data key (Shamir rekey checks the shares it was given). */
  async verifyRootKey(candidate: Buffer): Promise<void> {
    const probe = new Keyring(candidate);
    try {
      probe.verifyRoot(await listDataKeys(this.#store.db));
    } finally {
      probe.clear();
    }
  }

  /**
   * Drops every key, and every decrypted value cached anywhere, in one
   * synchronous step (so no request runs in between); the running re-wrap
   * stops at its next batch. Every way of sealing comes through here.
   */
  lock(): void {
    this.#keyring.clear();
    this.#store.changes.apply({ kind: "all" });
  }

  /** Loads data keys other nodes added and checks the root key still opens them all; nothing while sealed. */
  reload(): Promise<void> {
    return this.#serial.run(() => this.#reload());
  }

  seal(context: SecretContext, plaintext: Uint8Array): Sealed {
    return this.#unlessSealed(() => this.#keyring.sealSecret(context, plaintext));
  }

  /** Opens a ciphertext; a key another node added since our last load is fetched once. */
  async open(context: SecretContext, sealed: Uint8Array): Promise<Buffer> {
    try {
      return this.#unlessSealed(() => this.#keyring.openSecret(context, sealed));
    } catch (error) {
      if (!(error instanceof UnknownKeyVersionError)) throw error;
      await this.reload();
      return this.#unlessSealed(() => this.#keyring.openSecret(context, sealed));
    }
  }

  /**
   * Re-wraps every data key under `nextRoot` in one transaction (with
   * `alsoInTransaction`, e.g. the new share set), then switches to it. The
   * secrets' ciphertexts do not change; other nodes hear of it and seal.
   */
  rotateRootKey(nextRoot: Buffer, alsoInTransaction: (trx: Database) => Promise<void>): Promise<void> {
    return this.#serial.run(async () => {
      const db = this.#store.db;
      await this.#store.dialect.withStoreLock(db, async (locked) =>
        locked.transaction().execute(async (trx) => {
          const stored = await listDataKeys(trx);
          this.#guardRoot(() => {
            this.#keyring.load(stored);
            this.#keyring.verifyRoot(stored);
          });
          for (const key of this.#unlessSealed(() => this.#keyring.wrapAllUnder(nextRoot))) await replaceWrappedKey(trx, key);
          await alsoInTransaction(trx);
          await this.#store.changes.announce(trx, { kind: "keyring" });
        }),
      );
      this.#keyring.replaceRootKey(nextRoot);
      this.#log("root key rotated: the keyring is wrapped under the new root key");
    });
  }

  /** Adds a data key version; new writes use it at once, and a re-wrap of older versions starts. */
  async rotate(): Promise<KeyStatus> {
    const version = await this.#serial.run(async () => {
      const db = this.#store.db;
      const added = await this.#store.dialect.withStoreLock(db, async (locked) =>
        locked.transaction().execute(async (trx) => {
          // Never wrap a new data key under a root key another node has rotated away.
          const stored = await listDataKeys(trx);
          this.#guardRoot(() => this.#keyring.verifyRoot(stored));
          const next = (await newestDataKeyVersion(trx)) + 1;
          await insertDataKey(trx, { ...this.#unlessSealed(() => this.#keyring.wrapNewDataKey(next)), createdAt: this.#clock() });
          await this.#store.changes.announce(trx, { kind: "keyring" });
          return next;
        }),
      );
      await this.#reload();
      return added;
    });
    this.#log(`data key rotated to version ${version}; re-wrapping older secret versions`);
    this.startRewrap();
    return this.status();
  }

  /** Starts re-wrapping in the background unless a run is already going; the promise ends with the run and never rejects (failures land in status()). */
  startRewrap(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#rewrapAll().finally(() => {
        this.#running = null;
      });
    }
    return this.#running;
  }

  /** Finishes a re-wrap that a stop interrupted: anything still below the newest key is moved on start. */
  async resumeRewrap(): Promise<void> {
    if ((await countVersionsBelow(this.#store.db, this.#keyring.newestVersion)) > 0) void this.startRewrap();
  }

  async status(): Promise<KeyStatus> {
    const db = this.#store.db;
    const [keys, counts] = await Promise.all([listDataKeys(db), countVersionsByKey(db)]);
    return {
      keyVersion: this.#keyring.newestVersion,
      keys: keys.map((key) => ({ version: key.version, createdAt: key.createdAt, secretVersions: counts.get(key.version) ?? 0 })),
      rewrap: { ...this.#rewrap },
    };
  }

  async #reload(): Promise<void> {
    if (this.#keyring.sealed) return;
    const stored = await listDataKeys(this.#store.db);
    this.#guardRoot(() => {
      this.#keyring.load(stored);
      this.#keyring.verifyRoot(stored);
    });
  }

  /** Runs a keyring operation; a sealed keyring answers SEALED. */
  #unlessSealed<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof KeyringSealedError) throw new CofferError("SEALED", "the server is sealed");
      throw error;
    }
  }

  /** Runs `fn`; when our root key no longer opens the stored keyring, seals this node. */
  #guardRoot<T>(fn: () => T): T {
    try {
      return this.#unlessSealed(fn);
    } catch (error) {
      if (!(error instanceof RootKeyMismatchError)) throw error;
      this.lock();
      this.#log("sealed: this node's root key no longer opens the keyring (it was rotated on another node); unseal or restart it with the new key");
      throw new CofferError("SEALED", "this node's root key was rotated on another node; it sealed itself until it gets the new key");
    }
  }

  async #rewrapAll(): Promise<void> {
    const db = this.#store.db;
    // Published before the first await, so a status read right after rotate() already describes this run.
    const progress: RewrapProgress = {
      state: "running",
      targetKeyVersion: this.#keyring.newestVersion,
      done: 0,
      total: 0,
      startedAt: this.#clock(),
      finishedAt: null,
      error: null,
    };
    this.#rewrap = progress;
    try {
      progress.total = await countVersionsBelow(db, progress.targetKeyVersion);
      for (;;) {
        // A rotation during the run raises the target: keep going until nothing is below the newest key.
        if (this.#keyring.newestVersion > progress.targetKeyVersion) {
          progress.targetKeyVersion = this.#keyring.newestVersion;
          progress.total = progress.done + (await countVersionsBelow(db, progress.targetKeyVersion));
        }
        const target = progress.targetKeyVersion;
        const batch = await selectVersionsBelow(db, target, REWRAP_BATCH);
        if (batch.length === 0) {
          if (this.#keyring.newestVersion > target) continue;
          break;
        }
        await db.transaction().execute(async (trx) => {
          for (const row of batch) {
            const context = { workspaceId: row.workspaceId, secretId: row.secretId, version: row.version };
            const plaintext = await this.open(context, row.ciphertext);
            const ciphertext = this.seal(context, plaintext);
            plaintext.fill(0);
            await replaceCiphertext(trx, { ...row, fromKeyVersion: row.keyVersion, ciphertext, keyVersion: keyVersionOfSealed(ciphertext) });
          }
        });
        progress.done += batch.length;
        progress.total = Math.max(progress.total, progress.done);
        // Let requests run between batches: a rotation must not stall the server.
        await new Promise((resolve) => setImmediate(resolve));
      }
      progress.state = "done";
    } catch (error) {
      // A seal stops the run; the unseal resumes it.
      progress.state = "failed";
      progress.error = error instanceof CofferError ? error.message : "re-wrap failed; see the server log";
      this.#log(`re-wrap failed: ${(error as Error).message}`);
    } finally {
      progress.finishedAt = this.#clock();
    }
  }
}
