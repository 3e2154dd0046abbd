/**
 * Rate limits on the secrets surface, per token and per workspace.
 *
 * - "read": every request that reveals secrets or their metadata (read, batch
 *   read, list, versions, grants list). A batch read counts once: the limit is
 *   on requests, and a batch is capped at 100 names.
 * - "write": every change (create, replace, patch, delete, restore,
 *   rollback, grant changes).
 *
 * Each token has its own budget in each workspace (the workspace's setting,
 * default 20 reads/s and 5 writes/s), and the workspace as a whole has a
 * ceiling of WORKSPACE_FACTOR times that across all its tokens, so minting
 * tokens does not multiply the budget without end.
 *
 * Routes opt in with `config: { rateLimit: "read" | "write" }` (http/rate-limit.ts
 * applies it before the handler, using the route's `:workspace`); code that
 * finds its workspace otherwise calls `take()` itself.
 */
import { CofferError, invalid } from "../core/errors.ts";
import type { Principal } from "../identity/principal.ts";
import type { Tables } from "../store/tables.ts";
import type { LimitKind, LimitStore } from "./limit-store.ts";

export type { LimitKind } from "./limit-store.ts";

export interface RateLimitSettings {
  /** Per token, per second. */
  readsPerSecond: number;
  writesPerSecond: number;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = Object.freeze({ readsPerSecond: 20, writesPerSecond: 5 });
/** The highest per-token limit a workspace may set. */
export const RATE_LIMIT_MAX = 1_000_000;
/** A workspace's ceiling across all its tokens, as a multiple of the per-token limit. */
export const WORKSPACE_FACTOR = 10;
const HOUR_MS = 3_600_000;

type LimitedWorkspace = Pick<Tables["workspaces"], "id" | "name" | "readsPerSecond" | "writesPerSecond">;

export class RateLimits {
  readonly defaults: RateLimitSettings;
  #store: LimitStore;

  constructor(store: LimitStore, defaults: RateLimitSettings = DEFAULT_RATE_LIMITS) {
    this.#store = store;
    this.defaults = defaults;
  }

  /** Where the counters live: "memory" or the Redis they are shared through. */
  get description(): string {
    return this.#store.description;
  }

  /** The limits in force in a workspace: its own settings, else the server's defaults. */
  of(workspace: Pick<LimitedWorkspace, "readsPerSecond" | "writesPerSecond">): RateLimitSettings {
    return {
      readsPerSecond: workspace.readsPerSecond ?? this.defaults.readsPerSecond,
      writesPerSecond: workspace.writesPerSecond ?? this.defaults.writesPerSecond,
    };
  }

  /**
   * Counts one request of `kind` by the caller's token in `workspace`, or
   * throws RATE_LIMITED with Retry-After when the token's or the workspace's
   * budget is spent. Synchronous (undefined) when the answer is at hand.
   */
  take(kind: LimitKind, principal: Principal, workspace: LimitedWorkspace): void | Promise<void> {
    const rate = kind === "read" ? (workspace.readsPerSecond ?? this.defaults.readsPerSecond) : (workspace.writesPerSecond ?? this.defaults.writesPerSecond);
    const waitMs = this.#store.take(kind, workspace.id, principal.tokenId, rate, rate * WORKSPACE_FACTOR);
    if (typeof waitMs === "number") {
      if (waitMs > 0) throw limited(kind, rate, workspace.name, waitMs);
      return;
    }
    return waitMs.then((ms) => {
      if (ms > 0) throw limited(kind, rate, workspace.name, ms);
    });
  }

  /**
   * Counts one relayed use of a secret against the cap of the caller's token
   * (relayUsesPerHour, uses per secret per hour), on the shared store so
   * every node counts together; RATE_LIMITED past it. The window starts with
   * the first use, so Retry-After is at most an hour.
   */
  async countRelayUse(principal: Principal, secret: { id: string; name: string }): Promise<void> {
    const cap = principal.relayUsesPerHour;
    if (cap === null || cap === undefined) return;
    const uses = await this.#store.count(`relay-use:${principal.tokenId}:${secret.id}`, HOUR_MS);
    if (uses > cap) throw rateLimited(`this token may relay '${secret.name}' ${cap} times per hour, and has`, HOUR_MS);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}

/** The 429 every limit answers with; Retry-After is whole seconds, at least 1. */
export function rateLimited(message: string, waitMs: number): CofferError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new CofferError("RATE_LIMITED", `${message}; retry after ${seconds} s`, { "retry-after": String(seconds) });
}

function limited(kind: LimitKind, rate: number, workspace: string, waitMs: number): CofferError {
  const what = kind === "read" ? "reads" : "writes";
  return rateLimited(`too many ${what}: workspace '${workspace}' allows ${rate} ${what}/s per token and ${rate * WORKSPACE_FACTOR}/s in all`, waitMs);
}

/** A per-token limit as given in a request: an integer from 1 to RATE_LIMIT_MAX. */
export function checkRateLimit(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > RATE_LIMIT_MAX) {
    throw invalid(`${name} must be an integer from 1 to ${RATE_LIMIT_MAX}`);
  }
  return value;
}

/**
 * The server's default limits as an operator writes them (`--rate-limits`,
 * COFFER_RATE_LIMITS): `reads=N,writes=N`, either part alone keeping the
 * other default.
 */
export function parseRateLimits(text: string): RateLimitSettings {
  const settings = { ...DEFAULT_RATE_LIMITS };
  for (const part of text.split(",")) {
    const match = /^\s*(reads|writes)\s*=\s*(\d+)\s*$/.exec(part);
    if (!match) throw invalid(`rate limits are written reads=N,writes=N (per token per second), not '${text}'`);
    const field = match[1] === "reads" ? "readsPerSecond" : "writesPerSecond";
    settings[field] = checkRateLimit(match[1]!, Number(match[2]));
  }
  return settings;
}
