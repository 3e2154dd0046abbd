/**
 * Bearer tokens and generated API keys: 256 random bits, a recognisable prefix
 * and a CRC-32 checksum, like GitHub's tokens, so leak scanners find them with
 * few false positives and a typo is rejected before any lookup. The server
 * stores only the SHA-256 of a token; lookups go by that hash, so comparing
 * plaintext tokens never happens.
 */
import { createHash, hash, randomBytes, timingSafeEqual } from "node:crypto";
import { crc32 } from "node:zlib";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_CHARS = 43; // 256 bits in base62
const CHECK_CHARS = 6; // 32 bits in base62

/** `cft_`: Coffer access tokens. `cfk_`: INTERNAL_API_KEY secret values. */
export type TokenPrefix = "cft_" | "cfk_";

export function generateToken(prefix: TokenPrefix): string {
  const body = base62(randomBytes(32), BODY_CHARS);
  return prefix + body + checksum(prefix + body);
}

/** Cheap, offline shape and checksum test; says nothing about whether the token is valid. */
export function isWellFormedToken(value: string, prefix: TokenPrefix): boolean {
  if (value.length !== prefix.length + BODY_CHARS + CHECK_CHARS || !value.startsWith(prefix)) return false;
  const split = value.length - CHECK_CHARS;
  return checksum(value.slice(0, split)) === value.slice(split);
}

/** Runs on every request (auth.service.ts): the one-shot hash() costs a third of createHash().update().digest(). */
export function hashToken(token: string): string {
  return hash("sha256", token);
}

function checksum(text: string): string {
  return base62(uint32(crc32(text)), CHECK_CHARS);
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

function base62(bytes: Buffer, width: number): string {
  let n = BigInt("0x" + bytes.toString("hex"));
  let out = "";
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(width, "0");
}

/**
 * The CSRF token of a cookie session: derived from the session token, so only
 * a page that was handed it at login (the cookie itself is HttpOnly) can send
 * it back in a header. Cross-site requests carry the cookie but not this.
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHash("sha256").update("coffer-csrf\u0000").update(sessionToken).digest("base64url");
}

/** Constant-time equality of two secrets of any length. */
export function sameSecret(a: string, b: string): boolean {
  const left = createHash("sha256").update(a).digest();
  const right = createHash("sha256").update(b).digest();
  return timingSafeEqual(left, right);
}
