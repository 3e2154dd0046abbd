/**
 * Encryption of backup files: a stream cut into chunks, each sealed with
 * AES-256-GCM under a key derived from the root key, so a backup is useless
 * without the root key (as is the store it came from).
 *
 * Threat: whoever holds the file must learn nothing from it (names,
 * usernames and the audit log included, not only values), and must not be
 * able to shorten, reorder, splice or edit it without the restore noticing.
 * So every chunk's additional data binds the file header (and through it this
 * file's random salt), the chunk's index and whether it is the last one: a
 * chunk moved, dropped, taken from another backup or cut off at the end
 * fails to open, and a file that ends before its last chunk is truncated.
 *
 * File:  header | chunk 0 | chunk 1 | … | chunk n (last)
 * Header: magic "COFFERBK"(8) | format(1) | salt(32) | key check(16)
 * Chunk:  last flag(1 bit) + plaintext length(31 bits), big-endian | ciphertext | tag(16)
 *
 * Keys: HKDF-SHA256 over the root key with the per-file salt gives the chunk
 * key and, separately, the key check, which lets a restore tell "another
 * root key" from "a damaged file" without decrypting anything. Nonces are
 * the chunk index: the key is new for every file, so they never repeat.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { KEY_BYTES } from "./envelope.ts";

const MAGIC = Buffer.from("COFFERBK", "ascii");
const FORMAT_V1 = 0x01;
const SALT_BYTES = 32;
const CHECK_BYTES = 16;
const LENGTH_BYTES = 4;
const LAST_FLAG = 0x8000_0000;
const TAG_BYTES = 16;
export const BACKUP_HEADER_BYTES = MAGIC.length + 1 + SALT_BYTES + CHECK_BYTES;
/** Plaintext per chunk; a restore refuses longer chunks rather than allocating what a damaged length says. */
export const BACKUP_CHUNK_BYTES = 64 * 1024;

export class BackupDamagedError extends Error {
  constructor(what: string) {
    super(`the backup file is damaged, truncated or not a Coffer backup: ${what}`);
    this.name = "BackupDamagedError";
  }
}

export class BackupRootKeyError extends Error {
  constructor() {
    super("the backup was made with another root key: restore with the root key of the store it was taken from");
    this.name = "BackupRootKeyError";
  }
}

/** Keys for one backup file, held privately; made by the Keyring, which holds the root key. */
export class BackupCipher {
  readonly header: Buffer;
  #key: Buffer;
  #cleared = false;
  #onClear: ((cipher: BackupCipher) => void) | undefined;

  /** `salt` from an existing file's header (restore), or none for a new file; `onClear` tells its keyring it is gone. */
  constructor(rootKey: Buffer, existingHeader?: Buffer, onClear?: (cipher: BackupCipher) => void) {
    this.#onClear = onClear;
    if (rootKey.length !== KEY_BYTES) throw new RangeError("root key must be 32 bytes");
    // Defence in depth: a wiped key buffer is zeros, and a backup under it would open for anyone.
    if (rootKey.every((byte) => byte === 0)) throw new RangeError("no root key is loaded");
    const salt = existingHeader ? saltOf(existingHeader) : randomBytes(SALT_BYTES);
    this.#key = Buffer.from(hkdfSync("sha256", rootKey, salt, "coffer/backup/v1/chunks", KEY_BYTES));
    const check = Buffer.from(hkdfSync("sha256", rootKey, salt, "coffer/backup/v1/key-check", CHECK_BYTES));
    if (existingHeader) {
      if (!timingSafeEqual(check, existingHeader.subarray(BACKUP_HEADER_BYTES - CHECK_BYTES, BACKUP_HEADER_BYTES))) {
        this.#key.fill(0);
        throw new BackupRootKeyError();
      }
      this.header = Buffer.from(existingHeader.subarray(0, BACKUP_HEADER_BYTES));
    } else {
      this.header = Buffer.concat([MAGIC, Buffer.of(FORMAT_V1), salt, check]);
    }
  }

  sealChunk(index: number, last: boolean, plaintext: Uint8Array): Buffer {
    this.#usable();
    if (plaintext.length > BACKUP_CHUNK_BYTES) throw new RangeError("backup chunk too large");
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce(index));
    cipher.setAAD(this.#additionalData(index, last));
    const prefix = Buffer.allocUnsafe(LENGTH_BYTES);
    prefix.writeUInt32BE((last ? LAST_FLAG : 0) + plaintext.length);
    return Buffer.concat([prefix, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }

  /** `sealed` is one whole chunk, prefix included; the flag it says is authenticated with it. */
  openChunk(index: number, sealed: Buffer): Buffer {
    this.#usable();
    const last = (sealed.readUInt32BE(0) & LAST_FLAG) !== 0;
    const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce(index));
    decipher.setAAD(this.#additionalData(index, last));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(LENGTH_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new BackupDamagedError(`chunk ${index} failed authentication`);
    }
  }

  /** Wipes the key; the cipher refuses to work afterwards (a seal clears every cipher its keyring handed out). */
  clear(): void {
    this.#key.fill(0);
    this.#cleared = true;
    this.#onClear?.(this);
  }

  #usable(): void {
    // The stream stops here: a backup under way does not outlive a seal.
    if (this.#cleared) throw new Error("the backup's key was dropped: the server was sealed");
  }

  #additionalData(index: number, last: boolean): Buffer {
    const position = Buffer.alloc(9);
    position.writeBigUInt64BE(BigInt(index));
    position[8] = last ? 1 : 0;
    return Buffer.concat([this.header, position]);
  }
}

function saltOf(header: Buffer): Buffer {
  if (header.length < BACKUP_HEADER_BYTES || !header.subarray(0, MAGIC.length).equals(MAGIC)) throw new BackupDamagedError("no Coffer backup header");
  if (header[MAGIC.length] !== FORMAT_V1) throw new BackupDamagedError(`unknown backup format ${header[MAGIC.length]}`);
  return header.subarray(MAGIC.length + 1, MAGIC.length + 1 + SALT_BYTES);
}

function nonce(index: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeBigUInt64BE(BigInt(index), 4);
  return out;
}

/** Encrypts a plaintext stream into a backup file's bytes: the header, then chunks, the last one marked. */
export async function* encryptBackup(cipher: BackupCipher, plaintext: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield cipher.header;
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  for await (const piece of plaintext) {
    pending = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
    // Keep at least one byte back, so the last chunk is never sealed before we know it is the last.
    let offset = 0;
    for (; pending.length - offset > BACKUP_CHUNK_BYTES; offset += BACKUP_CHUNK_BYTES) {
      yield cipher.sealChunk(index++, false, pending.subarray(offset, offset + BACKUP_CHUNK_BYTES));
    }
    pending = pending.subarray(offset);
  }
  yield cipher.sealChunk(index, true, pending);
}

/**
 * Decrypts a backup file's bytes. `cipherFor` gets the header and returns the
 * file's cipher (BackupRootKeyError for another root key). Yields plaintext
 * only after it authenticated; throws BackupDamagedError on any alteration,
 * and when the file ends before its last chunk or goes on after it.
 */
export async function* decryptBackup(file: AsyncIterable<Uint8Array>, cipherFor: (header: Buffer) => BackupCipher): AsyncGenerator<Buffer> {
  let buffered = Buffer.alloc(0);
  let cipher: BackupCipher | undefined;
  let index = 0;
  let finished = false;
  try {
    for await (const piece of file) {
      buffered = buffered.length === 0 ? Buffer.from(piece) : Buffer.concat([buffered, piece]);
      if (!cipher) {
        if (buffered.length < BACKUP_HEADER_BYTES) continue;
        cipher = cipherFor(buffered.subarray(0, BACKUP_HEADER_BYTES));
        buffered = buffered.subarray(BACKUP_HEADER_BYTES);
      }
      while (buffered.length >= LENGTH_BYTES) {
        if (finished) throw new BackupDamagedError("data after the last chunk");
        const prefix = buffered.readUInt32BE(0);
        const length = prefix & ~LAST_FLAG;
        if (length > BACKUP_CHUNK_BYTES) throw new BackupDamagedError(`chunk ${index} has an impossible length`);
        const size = LENGTH_BYTES + length + TAG_BYTES;
        if (buffered.length < size) break;
        const plaintext = cipher.openChunk(index++, buffered.subarray(0, size));
        finished = (prefix & LAST_FLAG) !== 0;
        buffered = buffered.subarray(size);
        yield plaintext;
      }
    }
    if (!cipher) throw new BackupDamagedError("no Coffer backup header");
    if (buffered.length > 0) throw new BackupDamagedError(finished ? "data after the last chunk" : "it ends inside a chunk");
    if (!finished) throw new BackupDamagedError("it ends before its last chunk");
  } finally {
    cipher?.clear();
  }
}
