/**
 * HMAC-SHA256 with the key of an HMAC secret, so a caller holding only `use`
 * can sign and verify without ever receiving the key. Callers hand in the
 * secret's opened payload (its JSON key/value map); the key is taken out and
 * used here and nowhere else.
 *
 * Signature format: `v<version>:<base64url of the 32-byte MAC>`. The version
 * names the key version that signed, so a verifier can still accept
 * signatures of the previous key during a rotation's grace period.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const SIGNATURE = /^v([1-9][0-9]{0,9}):([A-Za-z0-9_-]{43})$/;
/** Single-value secrets keep their value under this key (see secret.rules.ts). */
const KEY_NAME = "value";

export class HmacKeyError extends Error {
  constructor() {
    super("an HMAC secret holds its key under 'value', or as its only key");
    this.name = "HmacKeyError";
  }
}

export interface ParsedSignature {
  version: number;
  mac: Buffer;
}

export function formatSignature(version: number, mac: Buffer): string {
  return `v${version}:${mac.toString("base64url")}`;
}

/** undefined when it is not a signature of this format. */
export function parseSignature(signature: string): ParsedSignature | undefined {
  const match = SIGNATURE.exec(signature);
  if (!match) return undefined;
  const mac = Buffer.from(match[2]!, "base64url");
  return mac.length === 32 ? { version: Number(match[1]), mac } : undefined;
}

/** The MAC of `message` under the key in `payload`; the payload is zeroed afterwards. */
export function macWithPayload(payload: Buffer, message: Uint8Array): Buffer {
  const key = keyOf(payload);
  try {
    return createHmac("sha256", key).update(message).digest();
  } finally {
    key.fill(0);
  }
}

/** Whether `mac` is the MAC of `message` under the key in `payload`, in constant time; the payload is zeroed. */
export function verifyWithPayload(payload: Buffer, message: Uint8Array, mac: Buffer): boolean {
  const expected = macWithPayload(payload, message);
  return expected.length === mac.length && timingSafeEqual(expected, mac);
}

function keyOf(payload: Buffer): Buffer {
  try {
    const data = JSON.parse(payload.toString("utf8")) as Record<string, string>;
    const names = Object.keys(data);
    const value = Object.hasOwn(data, KEY_NAME) ? data[KEY_NAME] : names.length === 1 ? data[names[0]!] : undefined;
    if (typeof value !== "string" || value.length === 0) throw new HmacKeyError();
    // The key is the value's UTF-8 bytes, as anyone holding the value would use it.
    return Buffer.from(value, "utf8");
  } finally {
    payload.fill(0);
  }
}
