/**
 * Authenticated encryption of everything Coffer stores encrypted.
 *
 * Threat: whoever reads the database (a copied file, a dump, a backup) must
 * learn nothing of a value, and whoever can write it must not be able to make
 * Coffer return one record's plaintext as another's. So every ciphertext is
 * AES-256-GCM under a fresh 96-bit nonce, and the additional data binds the
 * header (format and key version) and the caller's context string (for a
 * secret: workspace, secret id and version). A ciphertext moved to another
 * row, or a header edited to name another key, fails to open.
 *
 * Layout: format(1) | keyVersion(4, big-endian) | nonce(12) | ciphertext | tag(16)
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import { fillRandom } from "./random-pool.ts";

const FORMAT_V1 = 0x01;
const HEADER_BYTES = 5;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

export class IntegrityError extends Error {
  constructor() {
    super("ciphertext failed authentication");
    this.name = "IntegrityError";
  }
}

/**
 * A key as a KeyObject, for keys used again and again (the keyring's data
 * keys): a cipher made from a Buffer copies the key into a new native key
 * each time, about two thirds of what sealing a small value costs. Node holds
 * the key's bytes outside the JavaScript heap and wipes them when the object
 * is collected; the caller still wipes its Buffer.
 */
export function cipherKey(key: Buffer): KeyObject {
  checkKey(key);
  return createSecretKey(key);
}

export function seal(key: Buffer | KeyObject, keyVersion: number, plaintext: Uint8Array, context: string): Buffer {
  checkKey(key);
  if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > 0xffffffff) {
    throw new RangeError("key version must be a positive 32-bit integer");
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + NONCE_BYTES + plaintext.length + TAG_BYTES);
  out[0] = FORMAT_V1;
  out.writeUInt32BE(keyVersion, 1);
  fillRandom(out, HEADER_BYTES, NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, out.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES));
  cipher.setAAD(additionalData(out, context));
  let offset = HEADER_BYTES + NONCE_BYTES;
  offset += cipher.update(plaintext).copy(out, offset);
  offset += cipher.final().copy(out, offset);
  cipher.getAuthTag().copy(out, offset);
  return out;
}

export function open(key: Buffer | KeyObject, sealed: Uint8Array, context: string): Buffer {
  checkKey(key);
  const blob = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (blob.length < HEADER_BYTES + NONCE_BYTES + TAG_BYTES || blob[0] !== FORMAT_V1) {
    throw new IntegrityError();
  }
  const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES));
  decipher.setAAD(additionalData(blob, context));
  decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(blob.subarray(HEADER_BYTES + NONCE_BYTES, blob.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new IntegrityError();
  }
}

/** The key version a ciphertext names; authenticated only once it opens. */
export function keyVersionOf(sealed: Uint8Array): number {
  if (sealed.length < HEADER_BYTES || sealed[0] !== FORMAT_V1) throw new IntegrityError();
  return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).readUInt32BE(1);
}

function additionalData(blob: Buffer, context: string): Buffer {
  return Buffer.concat([blob.subarray(0, HEADER_BYTES), Buffer.from(context, "utf8")]);
}

function checkKey(key: Buffer | KeyObject): void {
  if ((Buffer.isBuffer(key) ? key.length : key.symmetricKeySize) !== KEY_BYTES) throw new RangeError("key must be 32 bytes");
}
