/**
 * Where rate-limit state lives: this node's memory (MemoryLimitStore), or
 * Redis shared by every node (RedisLimitStore). Two kinds of state:
 *
 * - token buckets, one per (workspace, token, kind) and one per (workspace,
 *   kind) as the workspace's ceiling. A bucket holds at most one second of
 *   its rate and refills continuously, so "20/s" allows 20 at once and then
 *   one every 50 ms. A bucket idle for a second is full, the same as absent,
 *   which is what lets idle ones be dropped.
 * - attempt counters (login throttling): how many attempts a key had and how
 *   long ago the last one was, forgotten a window after the last. Counting
 *   and checking are one atomic step, on every node at once with Redis, so a
 *   burst of parallel guesses cannot all pass a check before any is counted.
 * - event counters (alert thresholds): how many events a key had in a fixed
 *   window that starts with its first.
 */

export type LimitKind = "read" | "write";

/** A key of an attempt and how many attempts it has before each next one must wait. */
export interface AttemptKey {
  key: string;
  free: number;
}

/** Past `free` attempts, the next waits baseMs × 2^(attempts − free) since the last, at most maxMs; a key is forgotten windowMs after its last attempt. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
  windowMs: number;
}

/** waitMs 0: counted, with each key's new count; otherwise nothing was counted and this is how long to wait. */
export interface AttemptResult {
  waitMs: number;
  counts: number[];
}

export interface LimitStore {
  /** "memory", or where the shared state lives (never with a password). */
  readonly description: string;
  /**
   * Takes one request from both the token's and the workspace's bucket of
   * `kind`, or from neither. Returns 0 when taken, otherwise how many
   * milliseconds until both could give one. Answers synchronously whenever
   * it can (the read path's steady state), so the hot path makes no promise.
   */
  take(kind: LimitKind, workspaceId: string, tokenId: string, tokenRate: number, workspaceRate: number): number | Promise<number>;
  /** Counts one attempt on every key unless one of them must wait (then counts nothing): one atomic step. */
  attempt(keys: readonly AttemptKey[], backoff: Backoff): Promise<AttemptResult>;
  /** Restarts the keys' wait from now, counting nothing: an attempt is known to have failed only after its password check. */
  touch(keys: readonly string[]): Promise<void>;
  /** Takes one attempt back from a key (a success from an address many users share). */
  uncount(key: string): Promise<void>;
  /** Forgets a key's attempts. */
  forget(key: string): Promise<void>;
  /** Counts one event on `key` in a window of `windowMs` that starts with its first event; returns the count so far. */
  count(key: string, windowMs: number): Promise<number>;
  close(): Promise<void>;
}

/** How long an attempt on a key with `count` attempts, the last `sinceLastMs` ago, must still wait. */
export function backoffWait(count: number, sinceLastMs: number, free: number, backoff: Backoff): number {
  if (count < free) return 0;
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** (count - free)) - sinceLastMs;
}
