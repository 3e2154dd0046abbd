/**
 * Rate-limit state in this node's memory: the default, and what the Redis
 * store falls back to while Redis is unreachable. A take is two map lookups
 * and arithmetic on two buckets, allocating nothing once a token's buckets
 * exist. Buckets idle for a second are full, the same as absent, so a sweep
 * every few seconds (run by a take, not a timer) drops them: memory follows
 * the tokens active in the last seconds, not every token ever seen.
 */
import { Cache } from "../core/cache.ts";
import type { Clock } from "../core/clock.ts";
import { backoffWait, type AttemptKey, type AttemptResult, type Backoff, type LimitKind, type LimitStore } from "./limit-store.ts";

const SWEEP_EVERY_MS = 5_000;
/** A bucket holds one second of its rate, so after a second untouched it is full. */
const FULL_AFTER_MS = 1_000;
const MAX_COUNTER_KEYS = 100_000;

class Bucket {
  /** Requests available at `at`; starts full whatever the rate (clamped on first use). */
  level = Infinity;
  at = 0;
}

/** One token's (or the workspace's own) buckets in one workspace. */
class Buckets {
  read = new Bucket();
  write = new Bucket();
  usedAt = 0;
}

class WorkspaceBuckets extends Buckets {
  tokens = new Map<string, Buckets>();
}

interface Counter {
  count: number;
  last: number;
  forgetAt: number;
}

export class MemoryLimitStore implements LimitStore {
  readonly description = "memory";
  #clock: Clock;
  #workspaces = new Map<string, WorkspaceBuckets>();
  #sweptAt = 0;
  #attempts = new Cache<string, Counter>(MAX_COUNTER_KEYS);
  #events = new Cache<string, Counter>(MAX_COUNTER_KEYS);

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  take(kind: LimitKind, workspaceId: string, tokenId: string, tokenRate: number, workspaceRate: number): number {
    const now = this.#clock();
    if (now - this.#sweptAt >= SWEEP_EVERY_MS) this.#sweep(now);
    let workspace = this.#workspaces.get(workspaceId);
    if (workspace === undefined) this.#workspaces.set(workspaceId, (workspace = new WorkspaceBuckets()));
    let token = workspace.tokens.get(tokenId);
    if (token === undefined) workspace.tokens.set(tokenId, (token = new Buckets()));
    const tokenBucket = kind === "read" ? token.read : token.write;
    const workspaceBucket = kind === "read" ? workspace.read : workspace.write;
    const tokenLevel = levelOf(tokenBucket, tokenRate, now);
    const workspaceLevel = levelOf(workspaceBucket, workspaceRate, now);
    if (tokenLevel < 1 || workspaceLevel < 1) {
      return Math.max(msUntilOne(tokenLevel, tokenRate), msUntilOne(workspaceLevel, workspaceRate));
    }
    tokenBucket.level = tokenLevel - 1;
    tokenBucket.at = now;
    workspaceBucket.level = workspaceLevel - 1;
    workspaceBucket.at = now;
    token.usedAt = workspace.usedAt = now;
    return 0;
  }

  // No await between the check and the count: one step, as in Redis.
  async attempt(keys: readonly AttemptKey[], backoff: Backoff): Promise<AttemptResult> {
    const now = this.#clock();
    const live = keys.map(({ key }) => this.#live(this.#attempts, key, now));
    const waitMs = Math.max(0, ...keys.map(({ free }, i) => backoffWait(live[i]?.count ?? 0, now - (live[i]?.last ?? now), free, backoff)));
    if (waitMs > 0) return { waitMs: Math.ceil(waitMs), counts: [] };
    const counts = keys.map(({ key }, i) => {
      const count = (live[i]?.count ?? 0) + 1;
      this.#attempts.set(key, { count, last: now, forgetAt: now + backoff.windowMs }, this.#attempts.epoch);
      return count;
    });
    return { waitMs: 0, counts };
  }

  async touch(keys: readonly string[]): Promise<void> {
    const now = this.#clock();
    for (const key of keys) {
      const entry = this.#live(this.#attempts, key, now);
      if (entry) entry.last = now;
    }
  }

  async uncount(key: string): Promise<void> {
    const entry = this.#live(this.#attempts, key, this.#clock());
    if (entry && entry.count > 0) entry.count--;
  }

  async forget(key: string): Promise<void> {
    this.#attempts.delete(key);
  }

  async count(key: string, windowMs: number): Promise<number> {
    const now = this.#clock();
    const entry = this.#live(this.#events, key, now);
    if (entry) return ++entry.count;
    this.#events.set(key, { count: 1, last: now, forgetAt: now + windowMs }, this.#events.epoch);
    return 1;
  }

  #live(counters: Cache<string, Counter>, key: string, now: number): Counter | undefined {
    const entry = counters.get(key);
    return entry && now < entry.forgetAt ? entry : undefined;
  }

  async close(): Promise<void> {
    this.#workspaces.clear();
    this.#attempts.clear();
    this.#events.clear();
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [workspaceId, workspace] of this.#workspaces) {
      for (const [tokenId, token] of workspace.tokens) {
        if (now - token.usedAt >= FULL_AFTER_MS) workspace.tokens.delete(tokenId);
      }
      if (workspace.tokens.size === 0 && now - workspace.usedAt >= FULL_AFTER_MS) this.#workspaces.delete(workspaceId);
    }
  }
}

/** The bucket's level now: refilled at `rate` per second since it was last taken from, up to one second's worth. */
function levelOf(bucket: Bucket, rate: number, now: number): number {
  return Math.min(rate, bucket.level + (Math.max(0, now - bucket.at) * rate) / 1000);
}

function msUntilOne(level: number, rate: number): number {
  return level >= 1 ? 0 : Math.ceil(((1 - level) * 1000) / rate);
}
