/**
 * Data-key lifecycle: load the keyring at start, add a version on rotation,
 * and re-wrap every stored secret version under the newest key, online and
 * in batches, while reads keep working (old keys stay in the keyring).
 */
import type { Clock } from "../core/clock.ts";
import { CofferError } from "../core/errors.ts";
import { keyVersionOfSealed, Keyring, UnknownKeyVersionError, type Sealed, type SecretContext } from "../crypto/keyring.ts";
import type { Store } from "../store/store.ts";
import {
  countVersionsBelow,
  countVersionsByKey,
  insertDataKey,
  listDataKeys,
  newestDataKeyVersion,
  replaceCiphertext,
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

  async reload(): Promise<void> {
    this.#keyring.load(await listDataKeys(this.#store.db));
  }

  seal(context: SecretContext, plaintext: Uint8Array): Sealed {
    return this.#keyring.sealSecret(context, plaintext);
  }

  /** Opens a ciphertext; a key another node added since our last load is fetched once. */
  async open(context: SecretContext, sealed: Uint8Array): Promise<Buffer> {
    try {
      return this.#keyring.openSecret(context, sealed);
    } catch (error) {
      if (!(error instanceof UnknownKeyVersionError)) throw error;
      await this.reload();
      return this.#keyring.openSecret(context, sealed);
    }
  }

  /** Adds a data key version; new writes use it at once, and a re-wrap of older versions starts. */
  async rotate(): Promise<KeyStatus> {
    const db = this.#store.db;
    const version = await this.#store.dialect.withStoreLock(db, async (locked) =>
      locked.transaction().execute(async (trx) => {
        const next = (await newestDataKeyVersion(trx)) + 1;
        await insertDataKey(trx, { ...this.#keyring.wrapNewDataKey(next), createdAt: this.#clock() });
        await this.#store.changes.announce(trx, { kind: "keyring" });
        return next;
      }),
    );
    await this.reload();
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
            const ciphertext = this.#keyring.sealSecret(context, plaintext);
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
      progress.state = "failed";
      progress.error = error instanceof CofferError ? error.message : "re-wrap failed; see the server log";
      this.#log(`re-wrap failed: ${(error as Error).message}`);
    } finally {
      progress.finishedAt = this.#clock();
    }
  }
}
