/** Server-side generated secret values, for types whose value need not be typed in. */
import { randomBytes } from "node:crypto";
import { fillRandom } from "./random-pool.ts";
import { generateToken } from "./tokens.ts";

/** A 256-bit HMAC key, base64url. */
export function generateHmacKey(): string {
  return randomBytes(32).toString("base64url");
}

/** An API key with Coffer's prefix and checksum, so scanners recognise it if it leaks. */
export function generateInternalApiKey(): string {
  return generateToken("cfk_");
}

/** Random identifiers: 48 bits of time then 80 random bits, Crockford base32, so ids sort by creation. */
export function newId(prefix: string): string {
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(Date.now(), 0, 6);
  fillRandom(bytes, 6, 10);
  return `${prefix}_${base32(bytes)}`;
}

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += CROCKFORD[(value << (5 - bits)) & 31];
  return out;
}
