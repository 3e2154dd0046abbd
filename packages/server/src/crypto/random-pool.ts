/**
 * Random bytes for the write path's nonces and ids, drawn from a pool that
 * Node's CSPRNG refills POOL_BYTES at a time. Each randomFillSync call costs
 * ~3.6 µs here whatever its size (Node makes a crypto job object per call),
 * and an update made two (its version's nonce, its alert's id): ~3% of its
 * CPU. From the pool a draw costs a copy, as Node's own randomUUID does with
 * its cache. Every byte is handed out once, and wiped from the pool as it is.
 */
import { randomFillSync } from "node:crypto";

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let next = POOL_BYTES;

/** Fills `target[start, start + length)` with random bytes. */
export function fillRandom(target: Buffer, start: number, length: number): void {
  if (length > POOL_BYTES) {
    randomFillSync(target, start, length);
    return;
  }
  if (next + length > POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  pool.copy(target, start, next, next + length);
  pool.fill(0, next, next + length);
  next += length;
}
