/**
 * Whether the server holds its keys. A key-file or COFFER_ROOT_KEY server is
 * never sealed; a Shamir-share server starts sealed and needs `threshold`
 * shares before it can open a secret (sys/shamir-seal.ts).
 *
 * Any node seals itself when its root key stops opening the stored keyring
 * (another node rotated it), whatever the provider: `sealed` is the keyring's.
 */
import type { SealStatus } from "@coffer/protocol";
import { CofferError, invalid } from "../core/errors.ts";
import { RootKeyMismatchError } from "../crypto/keyring.ts";
import {
  decodeKey,
  discardStagedRootKeyFile,
  generateRootKey,
  loadRootKey,
  promoteRootKeyFile,
  stagedRootKey,
  stageRootKeyFile,
} from "../crypto/root-key.ts";
import type { KeyService } from "../keys/keys.service.ts";

export type { SealStatus };

/** A new split of the root key. */
export interface SplitRequest {
  shares: number;
  threshold: number;
}

export interface InitResult {
  /** Printed once; the server keeps none of them. */
  shares: string[];
  threshold: number;
  bootstrapToken: string;
}

export interface RotateResult {
  type: SealStatus["type"];
  /** Shamir: the new root key's shares (the old ones no longer unseal). */
  shares?: string[];
  threshold?: number;
}

export interface SealControl {
  status(): SealStatus;
  /** Takes one share; unseals once `threshold` distinct valid shares have arrived. `address` is throttled after wrong shares. */
  unseal(share: string, options?: { address?: string }): Promise<SealStatus>;
  /** Discards the shares received so far. */
  resetUnseal(): Promise<SealStatus>;
  /** Drops every key and decrypted value from memory. */
  seal(): Promise<void>;
  /** Shamir only, once: creates the root key and the store, and returns the shares and the admin bootstrap token. */
  init(split: SplitRequest): Promise<InitResult>;
  /** Shamir only: new shares for the same root key, given `threshold` current ones. */
  rekey(request: SplitRequest & { currentShares: string[] }): Promise<{ shares: string[]; threshold: number }>;
  /** A new root key; only the keyring is re-wrapped. Shamir needs `threshold` current shares and returns new ones. */
  rotateRootKey(request: Partial<SplitRequest> & { currentShares?: string[] | undefined }): Promise<RotateResult>;
}

/** The key-file and env providers: never sealed on purpose, nothing to unseal with; the key file can be rotated in place. */
export function alwaysUnsealed(type: "file" | "env", options: { keys: KeyService; dataDir: string }): SealControl {
  const where = type === "file" ? "the key file" : "the COFFER_ROOT_KEY variable";
  const refuse = (): never => {
    throw invalid(`this server's root key comes from ${where}; it is never sealed and has no shares (restart it if it sealed itself after a rotation elsewhere)`);
  };
  return {
    status: () => ({ sealed: options.keys.sealed, type, initialized: true, threshold: 1, shares: 1, progress: 0 }),
    unseal: async () => refuse(),
    resetUnseal: async () => refuse(),
    seal: async () => refuse(),
    init: async () => refuse(),
    rekey: async () => refuse(),
    rotateRootKey: async (request) => {
      if (type === "env") {
        throw invalid(
          "the root key comes from COFFER_ROOT_KEY, which the server cannot change: set COFFER_ROOT_KEY to a new key (openssl rand -base64 32) " +
            "and COFFER_ROOT_KEY_PREVIOUS to the current one, and restart; the first node to start re-wraps the keyring",
        );
      }
      if (request.currentShares !== undefined || request.shares !== undefined || request.threshold !== undefined) {
        throw invalid("a key-file root key has no shares: send an empty body");
      }
      await rotateKeyFile(options.keys, options.dataDir);
      return { type };
    },
  };
}

/** Stage the new key file, re-wrap the keyring under it, then put it in place (see crypto/root-key.ts). */
async function rotateKeyFile(keys: KeyService, dataDir: string): Promise<void> {
  const next = generateRootKey();
  try {
    stageRootKeyFile(dataDir, next);
    try {
      await keys.rotateRootKey(next, async () => {});
    } catch (error) {
      discardStagedRootKeyFile(dataDir);
      throw error;
    }
    promoteRootKeyFile(dataDir);
  } finally {
    next.fill(0);
  }
}

/**
 * Start with the key file or COFFER_ROOT_KEY: unlock the keyring, finishing
 * what an interrupted rotation left (a staged key file; a new
 * COFFER_ROOT_KEY with the old one in COFFER_ROOT_KEY_PREVIOUS). Returns where
 * the key came from, for the start-up log.
 */
export async function unlockWithRootKey(
  keys: KeyService,
  options: { dataDir: string; envValue?: string | undefined; previousEnvValue?: string | undefined; log: (message: string) => void },
): Promise<string> {
  const source = loadRootKey({ dataDir: options.dataDir, envValue: options.envValue });
  try {
    if (options.envValue) {
      await unlockEnv(keys, source.key, options.previousEnvValue, options.log);
    } else {
      await unlockFile(keys, source.key, options.dataDir, options.log);
    }
  } finally {
    source.key.fill(0);
  }
  return source.description;
}

async function unlockFile(keys: KeyService, key: Buffer, dataDir: string, log: (message: string) => void): Promise<void> {
  try {
    await keys.unlock(key);
    // The rotation that staged a key never committed: the staged key opens nothing.
    discardStagedRootKeyFile(dataDir);
    return;
  } catch (error) {
    const staged = error instanceof RootKeyMismatchError ? stagedRootKey(dataDir) : null;
    if (!staged) throw error;
    try {
      await keys.unlock(staged);
    } finally {
      staged.fill(0);
    }
  }
  promoteRootKeyFile(dataDir);
  log("finished an interrupted root-key rotation: the key file now holds the rotated key");
}

async function unlockEnv(keys: KeyService, key: Buffer, previous: string | undefined, log: (message: string) => void): Promise<void> {
  try {
    await keys.unlock(key);
    return;
  } catch (error) {
    if (!(error instanceof RootKeyMismatchError) || !previous) throw error;
  }
  const old = decodeKey(previous, "COFFER_ROOT_KEY_PREVIOUS");
  try {
    await keys.unlock(old);
  } finally {
    old.fill(0);
  }
  await keys.rotateRootKey(key, async () => {});
  log("re-wrapped the keyring under the new COFFER_ROOT_KEY; COFFER_ROOT_KEY_PREVIOUS is no longer needed");
}

/** The answer of a route whose seal says no. */
export function sealedError(status: SealStatus): CofferError {
  if (!status.initialized) return new CofferError("SEALED", "the server is not initialised: run 'coffer operator init --shares N --threshold K'");
  if (status.type !== "shamir") return new CofferError("SEALED", "the server sealed itself: its root key was rotated on another node; restart it with the new key");
  return new CofferError("SEALED", `the server is sealed: unseal it with ${status.threshold} shares ('coffer operator unseal'; ${status.progress} given so far)`);
}
