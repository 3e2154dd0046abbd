/**
 * Slows down password guessing. Attempts are counted in the rate limits'
 * store, so with Redis every node sees the same counts. Two counters:
 *
 * - (username, address): after 5 attempts that did not succeed, attempts for
 *   that username from that address are refused for a delay that doubles
 *   with each further one (capped), right password or not, so a guesser
 *   gains nothing by trying faster. Not the username alone: then anyone
 *   could lock a user out from everywhere by failing on purpose.
 * - the address alone, with more room (20): one place spraying guesses over
 *   many usernames is slowed down too.
 *
 * An attempt is counted before its password is checked, in the same atomic
 * step as the check (LimitStore.attempt): counting only after a failure let a
 * burst of parallel guesses all pass the check before the first was counted.
 * A success then clears its (username, address) count and takes its attempt
 * back from the address; a failure restarts the delay from its end. Keys are hashed, so the store never holds what was
 * typed as a username (sometimes a password).
 */
import { hashToken } from "../crypto/tokens.ts";
import type { Backoff, LimitStore } from "../limits/limit-store.ts";
import { rateLimited } from "../limits/rate-limits.ts";

const FREE_FOR_USER_AT_ADDRESS = 5;
const FREE_FOR_ADDRESS = 20;
/** Attempts are forgotten an hour after the last. */
const BACKOFF: Backoff = { baseMs: 1000, maxMs: 15 * 60_000, windowMs: 60 * 60_000 };

export class LoginThrottle {
  #store: LimitStore;

  constructor(store: LimitStore) {
    this.#store = store;
  }

  /**
   * Counts an attempt, or throws RATE_LIMITED (counting nothing) while the
   * username at this address, or the address, is cooling down. Returns how
   * many attempts without success the username now has from this address.
   */
  async attempt(username: string, address: string): Promise<number> {
    const { waitMs, counts } = await this.#store.attempt(
      [
        { key: pairKey(username, address), free: FREE_FOR_USER_AT_ADDRESS },
        { key: addressKey(address), free: FREE_FOR_ADDRESS },
      ],
      BACKOFF,
    );
    if (waitMs > 0) throw rateLimited("too many failed logins", waitMs);
    return counts[0]!;
  }

  /** The attempt failed: its delay counts from now, after the password check, not from when it began. */
  failed(username: string, address: string): Promise<void> {
    return this.#store.touch([pairKey(username, address), addressKey(address)]);
  }

  async succeed(username: string, address: string): Promise<void> {
    await Promise.all([this.#store.forget(pairKey(username, address)), this.#store.uncount(addressKey(address))]);
  }
}

function pairKey(username: string, address: string): string {
  return hashToken(`login-user-at\u0000${username}\u0000${address}`);
}

function addressKey(address: string): string {
  return hashToken(`login-address\u0000${address}`);
}
