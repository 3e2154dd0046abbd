/**
 * Slows down password guessing. After a few failures for one username, or
 * from one address, further attempts are refused for a delay that doubles
 * with each failure (capped), whether or not the password is right, so a
 * guesser gains nothing by trying faster. Success clears the username's count.
 * Per node, in memory; the rate-limit issue moves shared counters to Redis.
 */
import { Cache } from "../core/cache.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError } from "../core/errors.ts";

const FREE_ATTEMPTS = 5;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 15 * 60_000;
/** Failures older than this are forgotten. */
const WINDOW_MS = 60 * 60_000;

interface Failures {
  count: number;
  last: number;
}

export class LoginThrottle {
  #clock: Clock;
  #failures = new Cache<string, Failures>(100_000);

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Throws RATE_LIMITED while the username or the address is cooling down. */
  check(username: string, ip: string): void {
    const now = this.#clock();
    const wait = Math.max(this.#waitFor(`u:${username}`, now), this.#waitFor(`ip:${ip}`, now));
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new CofferError("RATE_LIMITED", `too many failed logins; try again in ${seconds} s`, { "retry-after": String(seconds) });
    }
  }

  /** Records a failure; returns how many failures the username now has in the window. */
  fail(username: string, ip: string): number {
    const now = this.#clock();
    this.#bump(`ip:${ip}`, now);
    return this.#bump(`u:${username}`, now);
  }

  succeed(username: string): void {
    this.#failures.delete(`u:${username}`);
  }

  #bump(key: string, now: number): number {
    const current = this.#failures.get(key);
    const count = current && now - current.last < WINDOW_MS ? current.count + 1 : 1;
    this.#failures.set(key, { count, last: now }, this.#failures.epoch);
    return count;
  }

  #waitFor(key: string, now: number): number {
    const failures = this.#failures.get(key);
    if (!failures || failures.count < FREE_ATTEMPTS || now - failures.last >= WINDOW_MS) return 0;
    const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (failures.count - FREE_ATTEMPTS));
    return failures.last + delay - now;
  }
}
