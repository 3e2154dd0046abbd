/**
 * Rate-limit state shared by every node through Redis (COFFER_REDIS_URL).
 *
 * Each check is one Lua script call (EVALSHA; ioredis falls back to EVAL
 * when Redis has not seen the script), atomic over the token's and the
 * workspace's bucket, timed by Redis's own clock so nodes' clocks do not
 * matter. To keep the read path off the network, a node takes small leases:
 * when a (workspace, token, kind) has no unit left here it asks Redis for up
 * to 20 ms of the budget (at least one request) and serves the next requests
 * from that without a round trip; unused units lapse after a second. At the
 * default 20/s a lease is one request, so low limits stay exact; at
 * bench-level limits a round trip serves thousands of requests. A refusal is
 * remembered until the time Redis said to wait, so a client hammering a
 * spent budget does not reach Redis either.
 *
 * Redis down (or slower than COMMAND_TIMEOUT_MS) fails OPEN to this node's
 * memory store, with a warning in the log when it happens and a note when
 * Redis answers again (retried every RETRY_MS): each node still enforces
 * every limit on its own, so an outage loosens the limits to N nodes × the
 * budget instead of stopping every secret read.
 */
import { Redis } from "ioredis";
import type { Clock } from "../core/clock.ts";
import type { AttemptKey, AttemptResult, Backoff, LimitKind, LimitStore } from "./limit-store.ts";
import { MemoryLimitStore } from "./memory-limit-store.ts";

/** A lease is this fraction of a second's budget: 20 ms of it. */
const LEASE_SHARE = 50;
/** Leased units not used within this are dropped (they were already spent in Redis: the error is on the strict side). */
const LEASE_MS = 1_000;
const COMMAND_TIMEOUT_MS = 200;
const CONNECT_WAIT_MS = 2_000;
/** While Redis is failing, this node uses its memory store and asks Redis again after this long. */
const RETRY_MS = 1_000;
const SWEEP_EVERY_MS = 5_000;

/** Redis time in milliseconds, for scripts. */
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: token bucket, workspace bucket. ARGV: token rate, workspace rate, units wanted.
 * Returns {granted, ms to wait when none}. Buckets hold one second of their rate,
 * so one idle for a second is full and may expire.
 */
const TAKE = `${NOW}
local rates = {tonumber(ARGV[1]), tonumber(ARGV[2])}
local levels = {}
for i = 1, 2 do
  local state = redis.call('HMGET', KEYS[i], 'level', 'at')
  if state[1] then
    levels[i] = math.min(rates[i], tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rates[i] / 1000)
  else
    levels[i] = rates[i]
  end
end
local granted = math.min(tonumber(ARGV[3]), math.floor(levels[1]), math.floor(levels[2]))
if granted < 1 then
  local wait = 0
  for i = 1, 2 do
    if levels[i] < 1 then wait = math.max(wait, math.ceil((1 - levels[i]) * 1000 / rates[i])) end
  end
  return {0, wait}
end
for i = 1, 2 do
  redis.call('HSET', KEYS[i], 'level', tostring(levels[i] - granted), 'at', now)
  redis.call('PEXPIRE', KEYS[i], 1000)
end
return {granted, 0}`;

/**
 * KEYS: attempt counters. ARGV: base ms, max ms, window ms, then each key's free attempts.
 * Checks every key and, only if none must wait, counts one attempt on each: returns {0, counts…};
 * otherwise counts nothing and returns {ms to wait}. The same rule as backoffWait() in limit-store.ts.
 */
const ATTEMPT = `${NOW}
local base, max, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'count', 'last')
  local count, free = tonumber(state[1] or 0), tonumber(ARGV[3 + i])
  if count >= free then
    wait = math.max(wait, math.min(max, base * 2 ^ (count - free)) - (now - tonumber(state[2])))
  end
end
if wait > 0 then return {math.ceil(wait)} end
local out = {0}
for i, key in ipairs(KEYS) do
  out[i + 1] = redis.call('HINCRBY', key, 'count', 1)
  redis.call('HSET', key, 'last', now)
  redis.call('PEXPIRE', key, window)
end
return out`;

/** KEYS: attempt counters. Sets 'last' to now on those that exist. */
const TOUCH = `${NOW}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'last', now) end
end
return 0`;

/** KEYS: one attempt counter. Takes one attempt back, never below 0, without creating the key. */
const UNCOUNT = `if redis.call('HGET', KEYS[1], 'count') and tonumber(redis.call('HGET', KEYS[1], 'count')) > 0 then
  redis.call('HINCRBY', KEYS[1], 'count', -1)
end
return 0`;

/** KEYS: an event counter. ARGV: window ms. Its window starts with its first event. */
const COUNT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

interface Scripts {
  cofferTake(tokenKey: string, workspaceKey: string, tokenRate: number, workspaceRate: number, want: number): Promise<[number, number]>;
  cofferAttempt(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
  cofferUncount(key: string): Promise<number>;
  cofferTouch(numberOfKeys: number, ...keys: string[]): Promise<number>;
  cofferCount(key: string, windowMs: number): Promise<number>;
}

class Lease {
  units = 0;
  expiresAt = 0;
  /** Redis said no unit is available before this. */
  deniedUntil = 0;
  pending: Promise<void> | undefined = undefined;
}

class TokenLeases {
  read = new Lease();
  write = new Lease();
  usedAt = 0;
}

export interface RedisLimitStoreOptions {
  url: string;
  /** Prepended to every key, so several installations (or test runs) can share one Redis. */
  prefix: string;
  clock: Clock;
  log: (message: string) => void;
}

export class RedisLimitStore implements LimitStore {
  readonly description: string;
  #redis: Redis & Scripts;
  #prefix: string;
  #clock: Clock;
  #log: (message: string) => void;
  #local: MemoryLimitStore;
  /** workspace id → token id → leases */
  #leases = new Map<string, Map<string, TokenLeases>>();
  #sweptAt = 0;
  /** Whether the last contact with Redis failed; the next success says it is back. */
  #down = false;
  #downUntil = 0;
  #closing = false;

  private constructor(options: RedisLimitStoreOptions) {
    this.description = `redis (${redacted(options.url)})`;
    this.#prefix = options.prefix;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#local = new MemoryLimitStore(options.clock);
    this.#redis = new Redis(options.url, {
      // Fail fast instead of queueing while disconnected: the memory store answers meanwhile.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_WAIT_MS,
      enableAutoPipelining: true,
    }) as Redis & Scripts;
    this.#redis.defineCommand("cofferTake", { numberOfKeys: 2, lua: TAKE });
    this.#redis.defineCommand("cofferAttempt", { lua: ATTEMPT });
    this.#redis.defineCommand("cofferUncount", { numberOfKeys: 1, lua: UNCOUNT });
    this.#redis.defineCommand("cofferTouch", { lua: TOUCH });
    this.#redis.defineCommand("cofferCount", { numberOfKeys: 1, lua: COUNT });
    this.#redis.on("error", (error: Error) => this.#failed(error));
    this.#redis.on("close", () => {
      if (!this.#closing) this.#failed(new Error("connection closed"));
    });
  }

  /** Connects (waiting a moment for Redis); a Redis that is not there yet is reported and retried, not fatal. */
  static async open(options: RedisLimitStoreOptions): Promise<RedisLimitStore> {
    const store = new RedisLimitStore(options);
    const redis = store.#redis;
    const ready = await new Promise<boolean>((resolve) => {
      const settle = (value: boolean) => {
        clearTimeout(timer);
        redis.off("ready", onReady).off("error", onError);
        resolve(value);
      };
      const onReady = () => settle(true);
      const onError = () => settle(false);
      const timer = setTimeout(onError, CONNECT_WAIT_MS);
      redis.once("ready", onReady).once("error", onError);
    });
    if (ready) options.log(`rate limits are shared through ${store.description}`);
    else store.#failed(new Error(`not ready within ${CONNECT_WAIT_MS} ms`));
    return store;
  }

  take(kind: LimitKind, workspaceId: string, tokenId: string, tokenRate: number, workspaceRate: number): number | Promise<number> {
    const now = this.#clock();
    if (now < this.#downUntil) return this.#local.take(kind, workspaceId, tokenId, tokenRate, workspaceRate);
    const lease = this.#lease(kind, workspaceId, tokenId, now);
    const known = fromLease(lease, now);
    if (known !== undefined) return known;
    return this.#takeShared(lease, kind, workspaceId, tokenId, tokenRate, workspaceRate);
  }

  async attempt(keys: readonly AttemptKey[], backoff: Backoff): Promise<AttemptResult> {
    const args = [...keys.map(({ key }) => this.#attemptKey(key)), backoff.baseMs, backoff.maxMs, backoff.windowMs, ...keys.map(({ free }) => free)];
    const answer = await this.#shared(() => this.#redis.cofferAttempt(keys.length, ...args));
    if (answer === undefined) return this.#local.attempt(keys, backoff);
    const [waitMs, ...counts] = answer.map(Number);
    return waitMs! > 0 ? { waitMs: waitMs!, counts: [] } : { waitMs: 0, counts };
  }

  async touch(keys: readonly string[]): Promise<void> {
    await this.#local.touch(keys);
    await this.#shared(() => this.#redis.cofferTouch(keys.length, ...keys.map((key) => this.#attemptKey(key))));
  }

  async uncount(key: string): Promise<void> {
    await this.#local.uncount(key);
    await this.#shared(() => this.#redis.cofferUncount(this.#attemptKey(key)));
  }

  async forget(key: string): Promise<void> {
    await this.#local.forget(key);
    await this.#shared(() => this.#redis.del(this.#attemptKey(key)));
  }

  async count(key: string, windowMs: number): Promise<number> {
    const count = await this.#shared(() => this.#redis.cofferCount(`${this.#prefix}count:${key}`, windowMs));
    return count === undefined ? this.#local.count(key, windowMs) : Number(count);
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#redis.quit().catch(() => this.#redis.disconnect());
    await this.#local.close();
  }

  /** Asks Redis for a lease (one request at a time per lease; the others wait for its answer), then takes from it. */
  async #takeShared(lease: Lease, kind: LimitKind, workspaceId: string, tokenId: string, tokenRate: number, workspaceRate: number): Promise<number> {
    for (;;) {
      lease.pending ??= this.#fetchLease(lease, kind, workspaceId, tokenId, tokenRate, workspaceRate).finally(() => {
        lease.pending = undefined;
      });
      await lease.pending;
      const now = this.#clock();
      if (now < this.#downUntil) return this.#local.take(kind, workspaceId, tokenId, tokenRate, workspaceRate);
      const known = fromLease(lease, now);
      if (known !== undefined) return known;
      // Requests that waited with this one used up the lease: ask again.
    }
  }

  async #fetchLease(lease: Lease, kind: LimitKind, workspaceId: string, tokenId: string, tokenRate: number, workspaceRate: number): Promise<void> {
    const want = Math.max(1, Math.floor(Math.min(tokenRate, workspaceRate) / LEASE_SHARE));
    const workspaceKey = `${this.#prefix}rate:{${workspaceId}}:${kind}`;
    const answer = await this.#shared(() => this.#redis.cofferTake(`${workspaceKey}:${tokenId}`, workspaceKey, tokenRate, workspaceRate, want));
    if (answer === undefined) return;
    const [granted, waitMs] = answer;
    const now = this.#clock();
    if (granted > 0) {
      lease.units = (now < lease.expiresAt ? lease.units : 0) + granted;
      lease.expiresAt = now + LEASE_MS;
    } else {
      lease.deniedUntil = now + Math.max(1, waitMs);
    }
  }

  /** Runs a Redis command; undefined when Redis failed (reported once per outage) or is being given a rest. */
  async #shared<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (this.#clock() < this.#downUntil) return undefined;
    try {
      const result = await command();
      if (this.#down) {
        this.#down = false;
        this.#log(`rate limits are shared through ${this.description} again`);
      }
      return result;
    } catch (error) {
      this.#failed(error as Error);
      return undefined;
    }
  }

  #failed(error: Error): void {
    if (this.#closing) return;
    this.#downUntil = this.#clock() + RETRY_MS;
    if (this.#down) return;
    this.#down = true;
    this.#log(
      `WARNING: rate limits: ${this.description} is unavailable (${error.message}); ` +
        "until it answers again every node enforces the limits on its own, in memory (fail open)",
    );
  }

  #lease(kind: LimitKind, workspaceId: string, tokenId: string, now: number): Lease {
    if (now - this.#sweptAt >= SWEEP_EVERY_MS) this.#sweep(now);
    let tokens = this.#leases.get(workspaceId);
    if (tokens === undefined) this.#leases.set(workspaceId, (tokens = new Map()));
    let leases = tokens.get(tokenId);
    if (leases === undefined) tokens.set(tokenId, (leases = new TokenLeases()));
    leases.usedAt = now;
    return kind === "read" ? leases.read : leases.write;
  }

  /** Drops leases that have lapsed: the memory follows the tokens active in the last seconds. */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [workspaceId, tokens] of this.#leases) {
      for (const [tokenId, leases] of tokens) {
        const busy = leases.read.pending !== undefined || leases.write.pending !== undefined;
        if (!busy && now - leases.usedAt >= LEASE_MS && now >= leases.read.deniedUntil && now >= leases.write.deniedUntil) tokens.delete(tokenId);
      }
      if (tokens.size === 0) this.#leases.delete(workspaceId);
    }
  }

  #attemptKey(key: string): string {
    return `${this.#prefix}login:${key}`;
  }
}

/** 0 after taking a leased unit, the wait while Redis's refusal holds, undefined when Redis must be asked. */
function fromLease(lease: Lease, now: number): number | undefined {
  if (lease.units > 0 && now < lease.expiresAt) {
    lease.units--;
    return 0;
  }
  if (now < lease.deniedUntil) return lease.deniedUntil - now;
  return undefined;
}

/** The URL without user name or password, for logs and start-up lines. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "an unparseable URL";
  }
}
