/**
 * Slows down password guessing. Failures are counted in the rate limits'
 * store, so with Redis every node sees the same counts. Two counters:
 *
 * - (username, address): after 5 failures, attempts for that username from
 *   that address are refused for a delay that doubles with each further
 *   failure (capped), right password or not, so a guesser gains nothing by
 *   trying faster. Not the username alone: then anyone could lock a user out
 *   from everywhere by failing on purpose.
 * - the address alone, with more room (20): one place spraying guesses over
 *   many usernames is slowed down too.
 *
 * Success clears its (username, address) count. Keys are hashed, so the
 * store never holds what was typed as a username (sometimes a password).
 */
import { hashToken } from "../crypto/tokens.ts";
import type { LimitStore } from "../limits/limit-store.ts";
import { rateLimited } from "../limits/rate-limits.ts";

const FREE_FOR_USER_AT_ADDRESS = 5;
const FREE_FOR_ADDRESS = 20;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 15 * 60_000;
/** Failures are forgotten this long after the last one. */
const WINDOW_MS = 60 * 60_000;

export class LoginThrottle {
  #store: LimitStore;

  constructor(store: LimitStore) {
    this.#store = store;
  }

  /** Throws RATE_LIMITED while the username at this address, or the address, is cooling down. */
  async check(username: string, address: string): Promise<void> {
    const [pair, place] = await this.#store.failures([pairKey(username, address), addressKey(address)]);
    const wait = Math.max(waitFor(pair!.count, pair!.sinceLastMs, FREE_FOR_USER_AT_ADDRESS), waitFor(place!.count, place!.sinceLastMs, FREE_FOR_ADDRESS));
    if (wait > 0) throw rateLimited("too many failed logins", wait);
  }

  /** Records a failure; returns how many the username now has from this address within the window. */
  async fail(username: string, address: string): Promise<number> {
    const [pair] = await this.#store.fail([pairKey(username, address), addressKey(address)], WINDOW_MS);
    return pair!;
  }

  succeed(username: string, address: string): Promise<void> {
    return this.#store.forget(pairKey(username, address));
  }
}

function pairKey(username: string, address: string): string {
  return hashToken(`login-user-at\u0000${username}\u0000${address}`);
}

function addressKey(address: string): string {
  return hashToken(`login-address\u0000${address}`);
}

function waitFor(count: number, sinceLastMs: number, free: number): number {
  if (count < free) return 0;
  const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (count - free));
  return delay - sinceLastMs;
}
