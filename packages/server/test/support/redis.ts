/**
 * The Redis CI provides at 127.0.0.1:6379 (COFFER_TEST_REDIS_URL overrides).
 * In CI a missing Redis fails the run; elsewhere tests that need it are
 * skipped and say so. Each test gets a key prefix of its own, and its keys
 * are deleted afterwards.
 */
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { Redis } from "ioredis";

export const REDIS_URL = process.env.COFFER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

let available: Promise<string | null> | undefined;

/** null when Redis answers; otherwise why not. Throws in CI, where it is required. */
export function redisUnavailable(): Promise<string | null> {
  available ??= (async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on("error", () => {});
    try {
      await redis.connect();
      await redis.ping();
      return null;
    } catch (error) {
      const reason = `Redis is not reachable at ${REDIS_URL} (${(error as Error).message})`;
      if (process.env.CI === "true") throw new Error(`${reason}; CI requires it`);
      return reason;
    } finally {
      redis.disconnect();
    }
  })();
  return available;
}

/** A key prefix for this test alone; every key under it is deleted when the test ends. */
export function redisPrefix(t: TestContext): string {
  const prefix = `coffer-test-${randomBytes(6).toString("hex")}:`;
  t.after(async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
    try {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== "0");
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}

/** How many keys exist under a prefix. */
export async function countKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  try {
    return (await redis.keys(`${prefix}*`)).length;
  } finally {
    redis.disconnect();
  }
}
