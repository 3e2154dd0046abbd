/**
 * The root key as Shamir shares: any `threshold` of `shares` rebuild it,
 * fewer tell nothing. The arithmetic (GF(256), as Vault's) is Privy's
 * audited `shamir-secret-sharing`; this module adds what people handle.
 *
 * A share as printed: `cfs_` + base64url of
 *   format(1) | share set(4) | share(33: 32 key bytes + x coordinate) | checksum(4)
 * The checksum (the first 4 bytes of SHA-256 of the rest) catches a mistyped
 * share before it is combined; the share set (random per split) tells a share
 * of an older split (before a rekey) from a current one. Neither says
 * anything about the key. A share that passes both and is still wrong (a
 * forged one) is caught when the rebuilt key fails to open the keyring.
 */
import { createHash, randomBytes } from "node:crypto";
import { combine, split } from "shamir-secret-sharing";
import { KEY_BYTES } from "./envelope.ts";

const PREFIX = "cfs_";
const FORMAT_V1 = 0x01;
const SET_BYTES = 4;
const SHARE_BYTES = KEY_BYTES + 1;
const CHECKSUM_BYTES = 4;
const ENCODED_BYTES = 1 + SET_BYTES + SHARE_BYTES + CHECKSUM_BYTES;
export const MAX_SHARES = 255;

export class InvalidShareError extends Error {
  override name = "InvalidShareError";
}

/** One decoded share, held only until the unseal it belongs to ends. */
export interface Share {
  /** The split it came from (hex): not secret. */
  set: string;
  /** The x coordinate: distinct for every share of one split; not secret. */
  x: number;
  bytes: Uint8Array;
}

/** A fresh share-set id for a new split. */
export function newShareSet(): string {
  return randomBytes(SET_BYTES).toString("hex");
}

/** Splits a 32-byte root key into `shares` printable shares, any `threshold` of which rebuild it. */
export async function splitRootKey(rootKey: Uint8Array, shares: number, threshold: number, set: string): Promise<string[]> {
  if (rootKey.length !== KEY_BYTES) throw new RangeError("the root key must be 32 bytes");
  checkSplit(shares, threshold);
  const parts = await split(new Uint8Array(rootKey), shares, threshold);
  const setBytes = Buffer.from(set, "hex");
  return parts.map((part) => {
    const body = Buffer.concat([Buffer.of(FORMAT_V1), setBytes, part]);
    const text = PREFIX + Buffer.concat([body, checksum(body)]).toString("base64url");
    body.fill(0);
    part.fill(0);
    return text;
  });
}

/** Throws RangeError unless 2 ≤ threshold ≤ shares ≤ 255 (the library's bounds). */
export function checkSplit(shares: number, threshold: number): void {
  if (!Number.isInteger(shares) || !Number.isInteger(threshold) || threshold < 2 || shares < threshold || shares > MAX_SHARES) {
    throw new RangeError(`shares and threshold must be whole numbers with 2 ≤ threshold ≤ shares ≤ ${MAX_SHARES}`);
  }
}

/** Reads a printed share; spaces and line breaks (from copying) are ignored. Throws InvalidShareError on a mistyped one. */
export function decodeShare(text: string): Share {
  const compact = text.replace(/\s+/g, "");
  if (!compact.startsWith(PREFIX)) throw new InvalidShareError(`a share starts with '${PREFIX}'`);
  const raw = Buffer.from(compact.slice(PREFIX.length), "base64url");
  if (raw.length !== ENCODED_BYTES || raw[0] !== FORMAT_V1) throw new InvalidShareError("the share is incomplete or mistyped");
  const body = raw.subarray(0, raw.length - CHECKSUM_BYTES);
  if (!checksum(body).equals(raw.subarray(raw.length - CHECKSUM_BYTES))) {
    raw.fill(0);
    throw new InvalidShareError("the share is mistyped (its checksum does not match)");
  }
  // A plain Uint8Array: the library checks the constructor, and a Buffer's is Buffer.
  const bytes = new Uint8Array(body.subarray(1 + SET_BYTES));
  const share = { set: body.subarray(1, 1 + SET_BYTES).toString("hex"), x: bytes[KEY_BYTES]!, bytes };
  raw.fill(0);
  return share;
}

/** Rebuilds the root key from `threshold` shares of one set. Wrong shares give a wrong key: the caller checks it against the keyring. */
export async function combineShares(shares: readonly Share[]): Promise<Buffer> {
  const key = await combine(shares.map((share) => share.bytes));
  const out = Buffer.from(key);
  key.fill(0);
  return out;
}

function checksum(body: Uint8Array): Buffer {
  return createHash("sha256").update(body).digest().subarray(0, CHECKSUM_BYTES);
}
