/**
 * Token → principal. Runs on every request, so a verified principal is cached
 * by token hash; any change to a token, user or service account (revocation,
 * disabling) clears the cache on every node through the change feed, and
 * expiry and source address are checked on each hit. At most
 * `cachedTokens` are held (--token-cache), the first cached dropped first.
 */
import { Cache } from "../core/cache.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError } from "../core/errors.ts";
import { hashToken, isWellFormedToken } from "../crypto/tokens.ts";
import type { Store } from "../store/store.ts";
import type { Level } from "./access.ts";
import type { Principal } from "./principal.ts";
import { findToken } from "./token.repository.ts";
import { compileScope } from "./token-scope.ts";
import { aclOf } from "./policy.service.ts";

/** Tokens whose principal a node holds unless the server is told otherwise (--token-cache). */
export const DEFAULT_TOKEN_CACHE = 10_000;

export class AuthService {
  #store: Store;
  #clock: Clock;
  #principals: Cache<string, Principal>;

  constructor(store: Store, clock: Clock, cachedTokens: number) {
    this.#store = store;
    this.#clock = clock;
    this.#principals = new Cache(cachedTokens);
    store.changes.subscribe((change) => {
      if (change.kind === "token" || change.kind === "user" || change.kind === "all") this.#principals.clear();
    });
  }

  async authenticate(token: string | undefined, address: string): Promise<Principal> {
    return this.principalOf(token, address);
  }

  /**
   * authenticate() for the hook every request runs: the principal itself
   * when its token is cached, so the usual request costs no promise; a
   * promise only when the token must be looked up. Throws (synchronously on
   * a cached token) when it is refused.
   */
  principalOf(token: string | undefined, address: string): Principal | Promise<Principal> {
    if (!token) throw unauthenticated("a bearer token is required");
    const hash = hashToken(token);
    const principal = this.#principals.get(hash);
    if (principal) return this.#admit(principal, address);
    // Only a token that hashes to a cached principal skips this: a typo is refused before any lookup.
    if (!isWellFormedToken(token, "cft_")) throw unauthenticated("the token is not a valid Coffer token");
    const epoch = this.#principals.epoch;
    return this.#load(hash).then((loaded) => {
      this.#principals.set(hash, loaded, epoch);
      return this.#admit(loaded, address);
    });
  }

  #admit(principal: Principal, address: string): Principal {
    if (principal.expiresAt !== null && principal.expiresAt <= this.#clock()) throw unauthenticated("the token has expired");
    if (!principal.scope.allowsAddress(address)) {
      throw new CofferError("ACCESS_DENIED", "this token may not be used from this address");
    }
    return principal;
  }

  async #load(hash: string): Promise<Principal> {
    const row = await findToken(this.#store.db, hash);
    if (!row || row.revokedAt !== null) throw unauthenticated("the token is unknown or revoked");
    const policies: string[] | null = row.policies === null ? null : JSON.parse(row.policies);
    const scope = compileScope({
      workspaceId: row.workspaceId,
      secrets: row.secrets === null ? null : JSON.parse(row.secrets),
      maxLevel: row.maxLevel as Level,
      cidrs: row.cidrs === null ? null : JSON.parse(row.cidrs),
      acl: policies === null ? null : await aclOf(this.#store.db, row.workspaceId, policies),
    });
    const base = {
      tokenId: row.id,
      tokenKind: row.kind as Principal["tokenKind"],
      expiresAt: row.expiresAt,
      scope,
      labels: row.labels === null ? {} : (JSON.parse(row.labels) as Record<string, string>),
      relayUsesPerHour: row.relayUsesPerHour,
      policies,
    };
    if (row.username !== null) {
      if (row.userDisabledAt !== null) throw unauthenticated("the user is disabled");
      return { ...base, kind: "user", id: row.principalId, name: row.username, isAdmin: row.isAdmin === 1, homeWorkspaceId: null };
    }
    if (row.serviceAccountName !== null && row.serviceAccountDisabledAt === null) {
      return { ...base, kind: "service_account", id: row.principalId, name: row.serviceAccountName, isAdmin: false, homeWorkspaceId: row.serviceAccountWorkspaceId };
    }
    throw unauthenticated("the token's identity no longer exists or is disabled");
  }
}

export function unauthenticated(message: string): CofferError {
  return new CofferError("UNAUTHENTICATED", message);
}
