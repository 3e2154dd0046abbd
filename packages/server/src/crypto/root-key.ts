/**
 * Where the root key comes from. The root key unwraps the keyring and nothing
 * else; whoever holds it and a copy of the store can read every secret, so the
 * key file is created with mode 0600 and only ever replaced by a rotation.
 *
 * Providers: COFFER_ROOT_KEY (base64 of 32 bytes; several server nodes share
 * one this way), a key file in the data directory (the embedded default), and
 * Shamir shares (crypto/shamir.ts). Cloud KMS fits the same shape: something
 * that yields 32 bytes.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KEY_BYTES } from "./envelope.ts";

export interface RootKeySource {
  /** Where the key came from, for the start-up log; never the key. */
  description: string;
  key: Buffer;
  created: boolean;
}

export class RootKeyError extends Error {
  override name = "RootKeyError";
}

export const ROOT_KEY_FILE = "root.key";
/** A rotated key file waits here until the store holds the keyring wrapped under it. */
export const NEXT_ROOT_KEY_FILE = "root.key.next";

export function generateRootKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function loadRootKey(options: { dataDir: string; envValue?: string | undefined }): RootKeySource {
  if (options.envValue) return readRootKey(options);
  const path = join(options.dataDir, ROOT_KEY_FILE);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  let created = false;
  try {
    // "wx" never overwrites: losing an existing root key would lose every secret.
    writeFileSync(path, randomBytes(KEY_BYTES).toString("base64") + "\n", { flag: "wx", mode: 0o600 });
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    chmodSync(path, 0o600);
  }
  return { ...readRootKey(options), created };
}

/**
 * Key-file rotation, crash-safe in three steps: stage the new key beside the
 * old one (0600, synced), commit the keyring re-wrapped under it, then rename
 * it over the old file (atomic). A crash between the steps leaves one file
 * that opens the keyring, and the next start tries both (sys/seal.ts).
 */
export function stageRootKeyFile(dataDir: string, key: Buffer): void {
  const path = join(dataDir, NEXT_ROOT_KEY_FILE);
  rmSync(path, { force: true });
  const fd = openSync(path, "wx", 0o600);
  try {
    writeFileSync(fd, key.toString("base64") + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function promoteRootKeyFile(dataDir: string): void {
  renameSync(join(dataDir, NEXT_ROOT_KEY_FILE), join(dataDir, ROOT_KEY_FILE));
  syncDirectory(dataDir);
}

export function discardStagedRootKeyFile(dataDir: string): void {
  rmSync(join(dataDir, NEXT_ROOT_KEY_FILE), { force: true });
}

/** The key a rotation staged and did not promote, if any. */
export function stagedRootKey(dataDir: string): Buffer | null {
  const path = join(dataDir, NEXT_ROOT_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  return decodeKey(text, path);
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A base64 key from the environment (COFFER_ROOT_KEY_PREVIOUS), checked like COFFER_ROOT_KEY. */
export function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== KEY_BYTES) {
    throw new RootKeyError(`${where} must hold a base64-encoded 32-byte key`);
  }
  return key;
}

/** The root key that already exists (COFFER_ROOT_KEY, else the key file); never makes one. */
export function readRootKey(options: { dataDir: string; envValue?: string | undefined }): RootKeySource {
  if (options.envValue) {
    return { description: "COFFER_ROOT_KEY", key: decodeKey(options.envValue, "COFFER_ROOT_KEY"), created: false };
  }
  const path = join(options.dataDir, ROOT_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw new RootKeyError(`no root key: neither COFFER_ROOT_KEY nor ${path} is there`);
  }
  return { description: path, key: decodeKey(text, path), created: false };
}
