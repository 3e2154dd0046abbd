/**
 * Where rate-limit state lives: this node's memory (MemoryLimitStore), or
 * Redis shared by every node (RedisLimitStore). Two kinds of state:
 *
 * - token buckets, one per (workspace, token, kind) and one per (workspace,
 *   kind) as the workspace's ceiling. A bucket holds at most one second of
 *   its rate and refills continuously, so "20/s" allows 20 at once and then
 *   one every 50 ms. A bucket idle for a second is full, the same as absent,
 *   which is what lets idle ones be dropped.
 * - failure counters (login throttling): how many failures a key had and how
 *   long ago the last one was, forgotten a window after the last.
 */

export type LimitKind = "read" | "write";

export interface FailureCount {
  count: number;
  /** Milliseconds since the last failure; meaningless when count is 0. */
  sinceLastMs: number;
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
  /** The failure count of each key, in order. */
  failures(keys: readonly string[]): Promise<FailureCount[]>;
  /** Records one failure on each key, each forgotten `windowMs` after its last failure; returns the new counts. */
  fail(keys: readonly string[], windowMs: number): Promise<number[]>;
  /** Forgets a key's failures. */
  forget(key: string): Promise<void>;
  close(): Promise<void>;
}
