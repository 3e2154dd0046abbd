/**
 * The Shamir provider: the root key exists only as shares held by people.
 * The server starts sealed; `init` (once) creates the root key, the store and
 * the shares; `unseal` collects shares until `threshold` distinct ones
 * rebuild a key that opens the keyring; `seal` drops every key and every
 * cache. Each node of a PostgreSQL cluster is unsealed on its own (as in
 * Vault); the split's size and id live in the store, so all nodes agree.
 *
 * Unseal progress: a mistyped share (checksum), a share of an older split
 * and a duplicate are refused and the progress is kept; when `threshold`
 * shares rebuild a key that opens nothing, one of them was wrong, nobody can
 * tell which, and the progress is reset.
 */
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { Serial } from "../core/serial.ts";
import { Keyring, RootKeyMismatchError } from "../crypto/keyring.ts";
import { generateRootKey } from "../crypto/root-key.ts";
import { checkSplit, combineShares, decodeShare, InvalidShareError, newShareSet, splitRootKey, type Share } from "../crypto/shamir.ts";
import type { KeyService } from "../keys/keys.service.ts";
import type { Database, Store } from "../store/store.ts";
import { initializeStore } from "./init.ts";
import type { InitResult, RotateResult, SealControl, SealStatus, SplitRequest } from "./seal.ts";
import { readSealConfig, writeShamirConfig, type ShamirConfig, type StoredSeal } from "./seal.repository.ts";
import { UnsealThrottle } from "./unseal-throttle.ts";

export interface ShamirSealOptions {
  store: Store;
  keys: KeyService;
  clock: Clock;
  log: (message: string) => void;
}

export class ShamirSeal implements SealControl {
  #store: Store;
  #keys: KeyService;
  #clock: Clock;
  #log: (message: string) => void;
  #throttle: UnsealThrottle;
  #stored: StoredSeal;
  #pending: Share[] = [];
  /** One unseal, seal, init, rekey or rotation at a time on this node. */
  #serial = new Serial();

  private constructor(options: ShamirSealOptions, stored: StoredSeal) {
    this.#store = options.store;
    this.#keys = options.keys;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#throttle = new UnsealThrottle(options.clock);
    this.#stored = stored;
    // Another node's init, rekey or rotation: status() shows the new split.
    options.store.changes.subscribe((change) => {
      if (change.kind === "keyring" || change.kind === "all") void this.#refresh().catch(() => {});
    });
  }

  static async open(options: ShamirSealOptions): Promise<ShamirSeal> {
    return new ShamirSeal(options, await readSealConfig(options.store.db));
  }

  status(): SealStatus {
    const sealed = this.#keys.sealed;
    const config = this.#stored.shamir;
    return {
      sealed,
      type: "shamir",
      initialized: this.#stored.initialized,
      threshold: config?.threshold ?? 0,
      shares: config?.shares ?? 0,
      progress: sealed ? this.#pending.length : 0,
    };
  }

  unseal(text: string, options: { address?: string } = {}): Promise<SealStatus> {
    return this.#serial.run(async () => {
      if (!this.#keys.sealed) return this.status();
      const address = options.address;
      if (address !== undefined) this.#throttle.check(address);
      const mistake = (error: CofferError): CofferError => {
        if (address !== undefined) this.#throttle.mistake(address);
        return error;
      };
      const config = await this.#config();
      let share: Share;
      try {
        share = decodeShare(text);
      } catch (error) {
        if (error instanceof InvalidShareError) throw mistake(invalid(`${error.message}; the shares given so far are kept`));
        throw error;
      }
      if (share.set !== config.shareSet) {
        share.bytes.fill(0);
        throw mistake(invalid("this share is from an older split of the root key (replaced by a rekey or a root-key rotation); the shares given so far are kept"));
      }
      if (this.#pending.some((given) => given.x === share.x)) {
        share.bytes.fill(0);
        throw invalid("this share was given already; the shares given so far are kept");
      }
      this.#pending.push(share);
      if (this.#pending.length < config.threshold) return this.status();
      const rootKey = await combineShares(this.#pending);
      this.#dropPending();
      try {
        await this.#keys.unlock(rootKey);
      } catch (error) {
        if (error instanceof RootKeyMismatchError) {
          throw mistake(invalid("these shares do not rebuild the root key: one of them is wrong; the progress was reset, start again"));
        }
        throw error;
      } finally {
        rootKey.fill(0);
      }
      this.#log("unsealed");
      await this.#keys.resumeRewrap();
      return this.status();
    });
  }

  /** Discards the shares given so far; waits for an unseal under way, so it cannot zero shares being combined. */
  resetUnseal(): Promise<SealStatus> {
    return this.#serial.run(async () => {
      this.#dropPending();
      return this.status();
    });
  }

  seal(): Promise<void> {
    return this.#serial.run(async () => {
      // Keys and caches go in one synchronous step; a read that fetched before it cannot refill a cache (the cache's epoch guard).
      this.#keys.lock();
      this.#dropPending();
      this.#log("sealed");
    });
  }

  init(request: SplitRequest): Promise<InitResult> {
    return this.#serial.run(async () => {
      const { shares, threshold } = checkedSplit(request);
      const already = () => invalid("the server is initialised already");
      if ((await this.#refresh()).initialized) throw already();
      const rootKey = generateRootKey();
      const keyring = new Keyring(rootKey);
      try {
        const config: ShamirConfig = { shares, threshold, shareSet: newShareSet() };
        // Split before the store commits: a store whose root key has no shares could never be opened.
        const printed = await splitRootKey(rootKey, shares, threshold, config.shareSet);
        const done = await initializeStore(this.#store, keyring, this.#clock, (trx) => this.#record(trx, config));
        if (!done) throw already();
        await this.#refresh();
        this.#log(`initialised with ${shares} shares, ${threshold} to unseal; the server stays sealed until they are given`);
        return { shares: printed, threshold, bootstrapToken: done.bootstrapToken };
      } finally {
        keyring.clear();
        rootKey.fill(0);
      }
    });
  }

  rekey(request: SplitRequest & { currentShares: string[] }): Promise<{ shares: string[]; threshold: number }> {
    return this.#serial.run(async () => {
      const { shares, threshold } = checkedSplit(request);
      const rootKey = await this.#rebuild(request.currentShares);
      try {
        const config: ShamirConfig = { shares, threshold, shareSet: newShareSet() };
        const printed = await splitRootKey(rootKey, shares, threshold, config.shareSet);
        await this.#store.dialect.withStoreLock(this.#store.db, (locked) => locked.transaction().execute((trx) => this.#record(trx, config)));
        await this.#refresh();
        this.#log(`rekeyed: ${shares} new shares, ${threshold} to unseal; the old shares no longer unseal`);
        return { shares: printed, threshold };
      } finally {
        rootKey.fill(0);
      }
    });
  }

  rotateRootKey(request: Partial<SplitRequest> & { currentShares?: string[] | undefined }): Promise<RotateResult> {
    return this.#serial.run(async () => {
      const current = await this.#config();
      const { shares, threshold } = checkedSplit({ shares: request.shares ?? current.shares, threshold: request.threshold ?? current.threshold });
      (await this.#rebuild(request.currentShares ?? [])).fill(0);
      const nextRoot = generateRootKey();
      try {
        const config: ShamirConfig = { shares, threshold, shareSet: newShareSet() };
        const printed = await splitRootKey(nextRoot, shares, threshold, config.shareSet);
        await this.#keys.rotateRootKey(nextRoot, (trx) => writeShamirConfig(trx, config));
        await this.#refresh();
        return { type: "shamir", shares: printed, threshold };
      } finally {
        nextRoot.fill(0);
      }
    });
  }

  /** The root key from `threshold` current shares, checked against the stored keyring (rekey and rotation need the key holders' consent). */
  async #rebuild(texts: string[]): Promise<Buffer> {
    if (this.#keys.sealed) throw new CofferError("SEALED", "the server is sealed");
    const config = await this.#config();
    if (texts.length < config.threshold) throw invalid(`give ${config.threshold} current shares (currentShares)`);
    const shares: Share[] = [];
    try {
      for (const [i, text] of texts.entries()) {
        let share: Share;
        try {
          share = decodeShare(text);
        } catch (error) {
          if (error instanceof InvalidShareError) throw invalid(`current share ${i + 1}: ${error.message}`);
          throw error;
        }
        shares.push(share);
        if (share.set !== config.shareSet) throw invalid(`current share ${i + 1} is from an older split of the root key`);
        if (shares.some((other) => other !== share && other.x === share.x)) throw invalid(`current share ${i + 1} is given twice`);
      }
      const rootKey = await combineShares(shares);
      try {
        await this.#keys.verifyRootKey(rootKey);
      } catch (error) {
        rootKey.fill(0);
        if (error instanceof RootKeyMismatchError) throw invalid("the current shares do not rebuild the root key: one of them is wrong");
        throw error;
      }
      return rootKey;
    } finally {
      for (const share of shares) share.bytes.fill(0);
    }
  }

  /** The split recorded in the store, inside the writing transaction; other nodes refresh their status. */
  async #record(trx: Database, config: ShamirConfig): Promise<void> {
    await writeShamirConfig(trx, config);
    await this.#store.changes.announce(trx, { kind: "keyring" });
  }

  async #config(): Promise<ShamirConfig> {
    const stored = await this.#refresh();
    if (!stored.initialized || !stored.shamir) throw invalid("the server is not initialised: run 'coffer operator init --shares N --threshold K'");
    return stored.shamir;
  }

  async #refresh(): Promise<StoredSeal> {
    this.#stored = await readSealConfig(this.#store.db);
    return this.#stored;
  }

  #dropPending(): void {
    for (const share of this.#pending) share.bytes.fill(0);
    this.#pending = [];
  }
}

function checkedSplit(request: SplitRequest): SplitRequest {
  try {
    checkSplit(request.shares, request.threshold);
  } catch (error) {
    if (error instanceof RangeError) throw invalid(error.message);
    throw error;
  }
  return { shares: request.shares, threshold: request.threshold };
}
