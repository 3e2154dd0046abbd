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
import type { FailureCount, LimitKind, LimitStore } from "./limit-store.ts";

const SWEEP_EVERY_MS = 5_000;
/** A bucket holds one second of its rate, so after a second untouched it is full. */
const FULL_AFTER_MS = 1_000;
const MAX_FAILURE_KEYS = 100_000;

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

interface Failures {
  count: number;
  last: number;
  forgetAt: number;
}

export class MemoryLimitStore implements LimitStore {
  readonly description = "memory";
  #clock: Clock;
  #workspaces = new Map<string, WorkspaceBuckets>();
  #sweptAt = 0;
  #failures = new Cache<string, Failures>(MAX_FAILURE_KEYS);

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

  async failures(keys: readonly string[]): Promise<FailureCount[]> {
    const now = this.#clock();
    return keys.map((key) => {
      const entry = this.#failures.get(key);
      return entry && now < entry.forgetAt ? { count: entry.count, sinceLastMs: now - entry.last } : { count: 0, sinceLastMs: 0 };
    });
  }

  async fail(keys: readonly string[], windowMs: number): Promise<number[]> {
    const now = this.#clock();
    return keys.map((key) => {
      const entry = this.#failures.get(key);
      const count = entry && now < entry.forgetAt ? entry.count + 1 : 1;
      this.#failures.set(key, { count, last: now, forgetAt: now + windowMs }, this.#failures.epoch);
      return count;
    });
  }

  async forget(key: string): Promise<void> {
    this.#failures.delete(key);
  }

  async close(): Promise<void> {
    this.#workspaces.clear();
    this.#failures.clear();
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
