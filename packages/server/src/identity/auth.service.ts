/**
 * Token → principal. Runs on every request, so a verified principal is cached
 * by token hash; any change to a token or user (revocation, disabling) clears
 * the cache on every node through the change feed, and expiry is checked on
 * each hit.
 */
import { Cache } from "../core/cache.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError } from "../core/errors.ts";
import { hashToken, isWellFormedToken } from "../crypto/tokens.ts";
import type { Store } from "../store/store.ts";
import type { Principal } from "./principal.ts";
import { findActiveToken } from "./token.repository.ts";

export class AuthService {
  #store: Store;
  #clock: Clock;
  #principals = new Cache<string, Principal>(10_000);

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
    store.changes.subscribe((change) => {
      if (change.kind === "token" || change.kind === "user" || change.kind === "all") this.#principals.clear();
    });
  }

  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw unauthenticated("a bearer token is required");
    const hash = hashToken(token);
    const now = this.#clock();
    const cached = this.#principals.get(hash);
    if (cached) {
      if (cached.expiresAt !== null && cached.expiresAt <= now) throw unauthenticated("the token has expired");
      return cached;
    }
    // Only a token that hashes to a cached principal skips this: a typo is refused before any lookup.
    if (!isWellFormedToken(token, "cft_")) throw unauthenticated("the token is not a valid Coffer token");
    const epoch = this.#principals.epoch;
    const row = await findActiveToken(this.#store.db, hash);
    if (!row || row.revokedAt !== null || row.disabledAt !== null) throw unauthenticated("the token is unknown or revoked");
    if (row.expiresAt !== null && row.expiresAt <= now) throw unauthenticated("the token has expired");
    const principal: Principal = {
      userId: row.userId,
      username: row.username,
      isAdmin: row.isAdmin === 1,
      tokenId: row.tokenId,
      expiresAt: row.expiresAt,
    };
    this.#principals.set(hash, principal, epoch);
    return principal;
  }
}

function unauthenticated(message: string): CofferError {
  return new CofferError("UNAUTHENTICATED", message);
}
