/**
 * The unseal route is public, as in Vault, and a wrong share throws away the
 * progress every key holder made. So an address that sends wrong shares
 * waits before it may send another: nothing after the first few mistakes
 * (people mistype), then a wait that doubles with each further mistake, up to
 * five minutes. Per node, in memory; an hour without mistakes forgets them.
 */
import { Cache } from "../core/cache.ts";
import type { Clock } from "../core/clock.ts";
import { rateLimited } from "../limits/rate-limits.ts";

const FORGIVEN = 3;
const FIRST_WAIT_MS = 1000;
const LONGEST_WAIT_MS = 5 * 60_000;
const MEMORY_MS = 60 * 60_000;
const ADDRESSES = 10_000;

export class UnsealThrottle {
  #clock: Clock;
  /** Oldest first out: a flood of addresses cannot grow it without bound. */
  #mistakes = new Cache<string, { count: number; at: number }>(ADDRESSES);

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Throws RATE_LIMITED while `address` must wait. */
  check(address: string): void {
    const mistakes = this.#current(address);
    if (!mistakes || mistakes.count < FORGIVEN) return;
    const wait = mistakes.at + Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** (mistakes.count - FORGIVEN)) - this.#clock();
    if (wait <= 0) return;
    throw rateLimited("too many wrong unseal shares from this address", wait);
  }

  mistake(address: string): void {
    const count = (this.#current(address)?.count ?? 0) + 1;
    this.#mistakes.set(address, { count, at: this.#clock() }, this.#mistakes.epoch);
  }

  #current(address: string): { count: number; at: number } | undefined {
    const mistakes = this.#mistakes.get(address);
    return mistakes && this.#clock() - mistakes.at < MEMORY_MS ? mistakes : undefined;
  }
}
