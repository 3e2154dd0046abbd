/**
 * The keyring: versioned 256-bit data keys, each stored wrapped by the root
 * key. Only this class ever holds unwrapped data keys, in a #private field so
 * that util.inspect, JSON.stringify and error reports cannot reach them.
 * New writes use the newest version; older versions stay until nothing is
 * encrypted under them, so reads never fail during a rotation.
 *
 * A keyring without a root key is sealed: it holds nothing and refuses every
 * operation until `unlock` gives it a root key that opens the stored keys.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { BackupCipher } from "./backup-cipher.ts";
import { cipherKey, IntegrityError, KEY_BYTES, keyVersionOf, open, seal } from "./envelope.ts";

/** A ciphertext only the keyring makes, so a repository cannot store plaintext by mistake. */
export type Sealed = Buffer & { readonly __brand: "Sealed" };

export interface WrappedDataKey {
  version: number;
  wrapped: Uint8Array;
}

/** Binds a secret version's ciphertext to its place: moving it to another row fails to open. */
export interface SecretContext {
  workspaceId: string;
  secretId: string;
  version: number;
}

export class UnknownKeyVersionError extends Error {
  readonly keyVersion: number;
  constructor(keyVersion: number) {
    super(`data key version ${keyVersion} is not in the keyring`);
    this.name = "UnknownKeyVersionError";
    this.keyVersion = keyVersion;
  }
}

export class RootKeyMismatchError extends Error {
  constructor() {
    super("the root key does not unlock this store's keyring");
    this.name = "RootKeyMismatchError";
  }
}

export class KeyringSealedError extends Error {
  constructor() {
    super("the keyring is sealed");
    this.name = "KeyringSealedError";
  }
}

export class Keyring {
  #rootKey: Buffer | null = null;
  /** Backup ciphers in use: keys derived from the root key, dropped with it. */
  #ciphers = new Set<BackupCipher>();
  /** As KeyObjects (envelope.ts, cipherKey): dropped, never wiped from here; Node wipes them when collected. */
  #dataKeys = new Map<number, KeyObject>();
  #newest = 0;

  /** Without a root key the keyring starts sealed. */
  constructor(rootKey?: Buffer) {
    if (rootKey) this.#rootKey = copyKey(rootKey);
  }

  get sealed(): boolean {
    return this.#rootKey === null;
  }

  /**
   * Takes a root key and every stored data key; all must open under it, or
   * the keyring stays sealed (RootKeyMismatchError): wrong Shamir shares
   * rebuild a key that opens nothing.
   */
  unlock(rootKey: Buffer, stored: readonly WrappedDataKey[]): void {
    this.clear();
    this.#rootKey = copyKey(rootKey);
    try {
      this.load(stored);
    } catch (error) {
      this.clear();
      throw error;
    }
  }

  /** Throws RootKeyMismatchError unless the root key held opens every stored key (another node may have rotated it). */
  verifyRoot(stored: readonly WrappedDataKey[]): void {
    const root = this.#root();
    for (const { version, wrapped } of stored) unwrap(root, version, wrapped).fill(0);
  }

  /** Every data key held, wrapped under `nextRoot`: what a root-key rotation stores before `replaceRootKey`. */
  wrapAllUnder(nextRoot: Buffer): WrappedDataKey[] {
    this.#root();
    return [...this.#dataKeys].map(([version, key]) => {
      const bytes = key.export();
      try {
        return { version, wrapped: seal(nextRoot, 1, bytes, wrapContext(version)) };
      } finally {
        bytes.fill(0);
      }
    });
  }

  /** Switches to the rotated root key once the store holds the keyring wrapped under it; a keyring sealed meanwhile stays sealed. */
  replaceRootKey(nextRoot: Buffer): void {
    if (!this.#rootKey) return;
    this.#rootKey.fill(0);
    this.#rootKey = copyKey(nextRoot);
  }

  get newestVersion(): number {
    return this.#newest;
  }

  get versions(): number[] {
    return [...this.#dataKeys.keys()].sort((a, b) => a - b);
  }

  /** Makes a fresh data key for `version`; the caller stores the wrapped form, then calls load(). */
  wrapNewDataKey(version: number): WrappedDataKey {
    return { version, wrapped: seal(this.#root(), 1, randomBytes(KEY_BYTES), wrapContext(version)) };
  }

  /** Adds stored data keys; throws RootKeyMismatchError when the root key cannot unwrap them. */
  load(keys: readonly WrappedDataKey[]): void {
    const root = this.#root();
    for (const { version, wrapped } of keys) {
      if (this.#dataKeys.has(version)) continue;
      const bytes = unwrap(root, version, wrapped);
      try {
        this.#dataKeys.set(version, cipherKey(bytes));
      } finally {
        bytes.fill(0);
      }
      if (version > this.#newest) this.#newest = version;
    }
  }

  sealSecret(context: SecretContext, plaintext: Uint8Array): Sealed {
    this.#root();
    const key = this.#dataKeys.get(this.#newest);
    if (!key) throw new UnknownKeyVersionError(this.#newest);
    return seal(key, this.#newest, plaintext, secretContext(context)) as Sealed;
  }

  /** Throws IntegrityError when the ciphertext was altered or belongs to another secret version. */
  openSecret(context: SecretContext, sealed: Uint8Array): Buffer {
    this.#root();
    const version = keyVersionOf(sealed);
    const key = this.#dataKeys.get(version);
    if (!key) throw new UnknownKeyVersionError(version);
    return open(key, sealed, secretContext(context));
  }

  /**
   * The cipher of a backup file, its key derived from the root key: a new
   * file's, or the one whose header is given (BackupRootKeyError when this
   * root key did not make it).
   */
  backupCipher(existingHeader?: Buffer): BackupCipher {
    const cipher = new BackupCipher(this.#root(), existingHeader, (done) => this.#ciphers.delete(done));
    this.#ciphers.add(cipher);
    return cipher;
  }

  /** Drops every key from memory (sealing, shutdown): the keyring is sealed afterwards. */
  clear(): void {
    for (const cipher of [...this.#ciphers]) cipher.clear();
    this.#dataKeys.clear();
    this.#rootKey?.fill(0);
    this.#rootKey = null;
    this.#newest = 0;
  }

  #root(): Buffer {
    if (!this.#rootKey) throw new KeyringSealedError();
    return this.#rootKey;
  }
}

function copyKey(key: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new RangeError("root key must be 32 bytes");
  return Buffer.from(key);
}

function unwrap(root: Buffer, version: number, wrapped: Uint8Array): Buffer {
  try {
    return open(root, wrapped, wrapContext(version));
  } catch (error) {
    if (error instanceof IntegrityError) throw new RootKeyMismatchError();
    throw error;
  }
}

export function keyVersionOfSealed(sealed: Uint8Array): number {
  return keyVersionOf(sealed);
}

function wrapContext(version: number): string {
  return `coffer/keyring/${version}`;
}

function secretContext({ workspaceId, secretId, version }: SecretContext): string {
  return `coffer/secret/${workspaceId}/${secretId}/${version}`;
}
