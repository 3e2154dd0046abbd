/**
 * The keyring: versioned 256-bit data keys, each stored wrapped by the root
 * key. Only this class ever holds unwrapped data keys, in a #private field so
 * that util.inspect, JSON.stringify and error reports cannot reach them.
 * New writes use the newest version; older versions stay until nothing is
 * encrypted under them, so reads never fail during a rotation.
 */
import { randomBytes } from "node:crypto";
import { BackupCipher } from "./backup-cipher.ts";
import { IntegrityError, KEY_BYTES, keyVersionOf, open, seal } from "./envelope.ts";

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

export class Keyring {
  #rootKey: Buffer;
  #dataKeys = new Map<number, Buffer>();
  #newest = 0;

  constructor(rootKey: Buffer) {
    if (rootKey.length !== KEY_BYTES) throw new RangeError("root key must be 32 bytes");
    this.#rootKey = Buffer.from(rootKey);
  }

  get newestVersion(): number {
    return this.#newest;
  }

  get versions(): number[] {
    return [...this.#dataKeys.keys()].sort((a, b) => a - b);
  }

  /** Makes a fresh data key for `version`; the caller stores the wrapped form, then calls load(). */
  wrapNewDataKey(version: number): WrappedDataKey {
    return { version, wrapped: seal(this.#rootKey, 1, randomBytes(KEY_BYTES), wrapContext(version)) };
  }

  /** Adds stored data keys; throws RootKeyMismatchError when the root key cannot unwrap them. */
  load(keys: readonly WrappedDataKey[]): void {
    for (const { version, wrapped } of keys) {
      if (this.#dataKeys.has(version)) continue;
      let key: Buffer;
      try {
        key = open(this.#rootKey, wrapped, wrapContext(version));
      } catch (error) {
        if (error instanceof IntegrityError) throw new RootKeyMismatchError();
        throw error;
      }
      this.#dataKeys.set(version, key);
      if (version > this.#newest) this.#newest = version;
    }
  }

  sealSecret(context: SecretContext, plaintext: Uint8Array): Sealed {
    const key = this.#dataKeys.get(this.#newest);
    if (!key) throw new UnknownKeyVersionError(this.#newest);
    return seal(key, this.#newest, plaintext, secretContext(context)) as Sealed;
  }

  /** Throws IntegrityError when the ciphertext was altered or belongs to another secret version. */
  openSecret(context: SecretContext, sealed: Uint8Array): Buffer {
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
    return new BackupCipher(this.#rootKey, existingHeader);
  }

  /** Drops every key from memory (sealing, shutdown). */
  clear(): void {
    for (const key of this.#dataKeys.values()) key.fill(0);
    this.#dataKeys.clear();
    this.#rootKey.fill(0);
    this.#newest = 0;
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
