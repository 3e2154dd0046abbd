/**
 * Where the root key comes from. The root key unwraps the keyring and nothing
 * else; whoever holds it and a copy of the store can read every secret, so the
 * key file is created with mode 0600 and never overwritten.
 *
 * Providers: COFFER_ROOT_KEY (base64 of 32 bytes; several server nodes share
 * one this way) and a key file in the data directory (the embedded default).
 * Shamir shares and cloud KMS fit the same shape: something that yields 32 bytes.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
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

function decodeKey(text: string, where: string): Buffer {
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
