/**
 * Tests of other things run with the per-token rate limits raised through
 * the operator's own setting (COFFER_RATE_LIMITS / CofferOptions.rateLimits):
 * the limiter still runs on every request, it just does not refuse the
 * dozens of writes a second a test makes. rate-limits.test.ts runs with the
 * real defaults.
 */
import type { RateLimitSettings } from "../../src/limits/rate-limits.ts";

export const TEST_RATE_LIMITS: RateLimitSettings = { readsPerSecond: 1_000_000, writesPerSecond: 1_000_000 };

export const TEST_RATE_LIMITS_ENV = `reads=${TEST_RATE_LIMITS.readsPerSecond},writes=${TEST_RATE_LIMITS.writesPerSecond}`;
