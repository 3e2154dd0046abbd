/**
 * Minting, listing and revoking tokens. A token is shown once, at creation;
 * only its SHA-256 is stored. Independent tokens (a login, an API token, a
 * service account's token) carry any scope within their identity's rights;
 * a child token is minted by another token and can only be narrower and
 * shorter-lived than it, one token per agent run. Revoking a token revokes
 * every token minted from it.
 */
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { newId } from "../crypto/generate.ts";
import { generateToken, hashToken } from "../crypto/tokens.ts";
import { deleteInChunks } from "../store/chunked-delete.ts";
import type { Database, Store } from "../store/store.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import { denied, LEVELS, type Level } from "./access.ts";
import { requireFullToken, requireInstanceAdmin, requireWorkspaceAdmin } from "./guards.ts";
import type { Principal } from "./principal.ts";
import { deleteTokensEndedBefore, findTokenByHash, findTokenById, insertToken, listTokensOf, revokeTree, updateExpiry, type TokenRow } from "./token.repository.ts";
import { checkScope, FULL_SCOPE, narrows, type TokenScope } from "./token-scope.ts";
import { findServiceAccount, findServiceAccountById } from "./service-account.repository.ts";

export const SESSION_TTL_SECONDS = 12 * 3600;
/** Vault's default max_lease_ttl: the end of a renewable token without explicit_max_ttl or period. */
const SYSTEM_MAX_TTL_SECONDS = 768 * 3600;
const CHILD_DEFAULT_TTL_SECONDS = 3600;
const MAX_TTL_SECONDS = 10 * 365 * 86400;

export interface ScopeInput {
  name?: string | undefined;
  workspace?: string | undefined;
  secrets?: string[] | undefined;
  access?: string | undefined;
  ttl?: number | undefined;
  cidrs?: string[] | undefined;
  /** Attribution for relayed calls' audit events. */
  labels?: { agent?: string | undefined; session?: string | undefined } | undefined;
  /** Relayed uses per secret per hour. */
  relayUsesPerHour?: number | undefined;
}

/** What Vault's auth/token/create adds to a child token (all durations in seconds). */
export interface LeaseInput {
  /** renew-self and renew may extend it, up to maxTtl. */
  renewable?: boolean | undefined;
  /** A hard end, counted from creation: no renewal goes past it. */
  explicitMaxTtl?: number | undefined;
  /** A periodic token: each renewal grants this many seconds, with no end but explicitMaxTtl. */
  period?: number | undefined;
  meta?: Record<string, string> | undefined;
  /** Vault ACL policy names (identity/acl-policy.ts); the token's access is theirs and its scope's at once. */
  policies?: string[] | undefined;
  /** Not revoked with the calling token: administrators only, as Vault asks root for it. */
  orphan?: boolean | undefined;
}

export interface TokenView {
  id: string;
  name: string;
  kind: string;
  principalId: string;
  principalName?: string;
  parentId: string | null;
  workspaceId: string | null;
  secrets: string[] | null;
  access: Level;
  cidrs: string[] | null;
  expiresAt: number | null;
  createdAt: number;
  labels: Record<string, string>;
  relayUsesPerHour: number | null;
  renewable: boolean;
  ttlSeconds: number | null;
  maxExpiresAt: number | null;
  periodSeconds: number | null;
  meta: Record<string, string> | null;
  policies: string[] | null;
}

export interface MintedToken {
  token: string;
  info: TokenView;
}

/** Writes a new token row; the only place a token's plaintext exists on the server, until it is returned once. */
export async function mintToken(
  db: Database,
  fields: {
    principalId: string;
    parentId: string | null;
    kind: "session" | "api" | "child";
    name: string;
    scope: TokenScope;
    expiresAt: number | null;
    now: number;
    labels?: Record<string, string> | undefined;
    relayUsesPerHour?: number | null | undefined;
    lease?: Lease;
  },
): Promise<MintedToken> {
  const token = generateToken("cft_");
  const row: Omit<TokenRow, "revokedAt"> = {
    id: newId("tok"),
    tokenHash: hashToken(token),
    principalId: fields.principalId,
    parentId: fields.parentId,
    kind: fields.kind,
    name: fields.name,
    workspaceId: fields.scope.workspaceId,
    secrets: fields.scope.secrets === null ? null : JSON.stringify(fields.scope.secrets),
    maxLevel: fields.scope.maxLevel,
    cidrs: fields.scope.cidrs === null ? null : JSON.stringify(fields.scope.cidrs),
    expiresAt: fields.expiresAt,
    createdAt: fields.now,
    labels: fields.labels === undefined || Object.keys(fields.labels).length === 0 ? null : JSON.stringify(fields.labels),
    relayUsesPerHour: fields.relayUsesPerHour ?? null,
    renewable: fields.lease?.renewable ? 1 : 0,
    ttlSeconds: fields.lease?.ttlSeconds ?? null,
    maxExpiresAt: fields.lease?.maxExpiresAt ?? null,
    periodSeconds: fields.lease?.periodSeconds ?? null,
    meta: fields.lease?.meta ? JSON.stringify(fields.lease.meta) : null,
    policies: fields.lease?.policies ? JSON.stringify(fields.lease.policies) : null,
  };
  await insertToken(db, row);
  return { token, info: viewOf({ ...row, revokedAt: null }) };
}

export class TokenService {
  #store: Store;
  #clock: Clock;
  #workspaces: WorkspaceService;

  constructor(store: Store, clock: Clock, workspaces: WorkspaceService) {
    this.#store = store;
    this.#clock = clock;
    this.#workspaces = workspaces;
  }

  /** An independent token for the caller's own identity (users only). */
  async create(principal: Principal, input: ScopeInput): Promise<MintedToken> {
    if (principal.kind !== "user") throw denied("service accounts mint child tokens only");
    requireFullToken(principal, "create independent tokens");
    const scope = await this.#scopeFrom(principal, input, FULL_SCOPE);
    const now = this.#clock();
    return mintToken(this.#store.db, { principalId: principal.id, parentId: null, kind: "api", name: tokenName(input.name), scope, expiresAt: expiry(now, input.ttl), now, ...relayFields(input) });
  }

  /** A token for a service account of a workspace the caller administers, bound to that workspace. */
  async createForServiceAccount(principal: Principal, workspace: string, serviceAccount: string, input: ScopeInput): Promise<MintedToken> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "create service account tokens");
    const account = await findServiceAccount(this.#store.db, access.workspace.id, serviceAccount);
    if (!account || account.disabledAt !== null) throw new CofferError("NOT_FOUND", `no service account '${serviceAccount}'`);
    const scope = checkScope({ ...scopeFields(input, FULL_SCOPE), workspaceId: access.workspace.id });
    const now = this.#clock();
    return mintToken(this.#store.db, { principalId: account.id, parentId: null, kind: "api", name: tokenName(input.name), scope, expiresAt: expiry(now, input.ttl), now, ...relayFields(input) });
  }

  /** A child of the calling token: never wider, never longer-lived (an orphan: never wider). */
  async createChild(principal: Principal, input: ScopeInput & LeaseInput = {}): Promise<MintedToken> {
    const parent = principal.scope.scope;
    const scope = await this.#scopeFrom(principal, input, parent);
    if (!narrows(scope, parent)) throw denied("a child token cannot be wider than its parent");
    if (input.orphan) requireInstanceAdmin(principal, "create orphan tokens (no_parent)");
    const policies = input.policies ?? principal.policies ?? undefined;
    // A token with policies reaches what they allow and no more: a child keeps within its parent's.
    if (principal.policies !== null && policies?.some((name) => !principal.policies!.includes(name))) {
      throw denied("a child token's policies must be among its parent's");
    }
    const now = this.#clock();
    for (const ttl of [input.ttl, input.explicitMaxTtl, input.period]) checkTtl(ttl);
    const ttl = input.period ?? input.ttl ?? CHILD_DEFAULT_TTL_SECONDS;
    // The hard end: explicit_max_ttl, else Vault's system maximum for renewable non-periodic tokens; never past the parent's.
    const parentEnd = input.orphan ? null : principal.expiresAt;
    const ownMax = input.explicitMaxTtl ? now + input.explicitMaxTtl * 1000 : input.renewable !== false && input.period === undefined ? now + SYSTEM_MAX_TTL_SECONDS * 1000 : null;
    const maxExpiresAt = earliest(ownMax, parentEnd);
    // Like Vault, a child's life is cut to its maximum (and its parent's) rather than refused.
    const expiresAt = earliest(now + ttl * 1000, maxExpiresAt)!;
    const lease: Lease = { renewable: input.renewable !== false, ttlSeconds: ttl, maxExpiresAt, periodSeconds: input.period ?? null, meta: input.meta ?? null, policies: policies ?? null };
    const parentId = input.orphan ? null : principal.tokenId;
    const own = relayFields(input);
    const parentCap = principal.relayUsesPerHour ?? null;
    if (own.relayUsesPerHour !== undefined && parentCap !== null && own.relayUsesPerHour > parentCap) {
      throw invalid(`relayUsesPerHour of a child token is at most its parent's (${parentCap})`);
    }
    // A child acts for the same agent run unless it says otherwise, and is never less capped than its parent.
    const labels = own.labels ?? { ...principal.labels };
    const relayUsesPerHour = own.relayUsesPerHour ?? parentCap;
    return mintToken(this.#store.db, { principalId: principal.id, parentId, kind: "child", name: tokenName(input.name ?? "child"), scope, expiresAt, now, labels, relayUsesPerHour, lease });
  }

  /**
   * Extends a renewable token, as Vault's renew: by `increment` seconds from
   * now (else its period, else its TTL), never past its maximum. The caller
   * renews its own token, or one it may revoke.
   */
  async renew(principal: Principal, tokenId: string, increment?: number): Promise<TokenView> {
    const row = await findTokenById(this.#store.db, tokenId);
    const now = this.#clock();
    const notFound = new CofferError("NOT_FOUND", "no such token");
    if (!row || row.revokedAt !== null || expired(row, now)) throw notFound;
    if (row.principalId !== principal.id && !(await this.#mayRevokeOthers(principal, row))) throw notFound;
    if (row.renewable !== 1) throw invalid("lease is not renewable");
    checkTtl(increment || undefined);
    const grant = row.periodSeconds ?? (increment || row.ttlSeconds || 0);
    const expiresAt = earliest(now + grant * 1000, row.maxExpiresAt)!;
    await this.#store.db.transaction().execute(async (trx) => {
      await updateExpiry(trx, row.id, expiresAt);
      await this.#store.changes.announce(trx, { kind: "token", id: row.id });
    });
    this.#store.changes.apply({ kind: "token", id: row.id });
    return viewOf({ ...row, expiresAt });
  }

  /** A token the caller may look up (its own, or one it may revoke), by id (Vault's accessor) or by the token itself. */
  async lookup(principal: Principal, ref: { id: string } | { token: string }): Promise<TokenView> {
    const row = "id" in ref ? await findTokenById(this.#store.db, ref.id) : await findTokenByHash(this.#store.db, hashToken(ref.token));
    const notFound = new CofferError("NOT_FOUND", "no such token");
    if (!row || row.revokedAt !== null || expired(row, this.#clock())) throw notFound;
    if (row.principalId !== principal.id && !(await this.#mayRevokeOthers(principal, row))) throw notFound;
    return viewOf(row);
  }

  async self(principal: Principal): Promise<TokenView> {
    const row = await findTokenById(this.#store.db, principal.tokenId);
    if (!row) throw new CofferError("UNAUTHENTICATED", "the token is unknown or revoked");
    return { ...viewOf(row), principalName: principal.name };
  }

  /**
   * Removes the tokens that expired or were revoked before `before`: every
   * login and every child token minted is a row, so without this the table
   * grows with each use. A token removed is refused as unknown rather than
   * as expired, so the caller (coffer.ts) keeps them a while. How many.
   */
  async tidy(before: number): Promise<number> {
    return deleteInChunks((limit) => deleteTokensEndedBefore(this.#store.db, before, limit));
  }

  async list(principal: Principal): Promise<TokenView[]> {
    return (await listTokensOf(this.#store.db, principal.id, this.#clock())).map(viewOf);
  }

  async listForServiceAccount(principal: Principal, workspace: string, serviceAccount: string): Promise<TokenView[]> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "list service account tokens");
    const account = await findServiceAccount(this.#store.db, access.workspace.id, serviceAccount);
    if (!account) throw new CofferError("NOT_FOUND", `no service account '${serviceAccount}'`);
    return (await listTokensOf(this.#store.db, account.id, this.#clock())).map(viewOf);
  }

  /** Revokes a token and its descendants: the caller's own, a service account's (workspace admins), or any (administrators). */
  async revoke(principal: Principal, tokenId: string): Promise<number> {
    const row = await findTokenById(this.#store.db, tokenId);
    const notFound = new CofferError("NOT_FOUND", `no token '${tokenId}'`);
    if (!row || row.revokedAt !== null) throw notFound;
    const own = row.principalId === principal.id;
    if (!own && !(await this.#mayRevokeOthers(principal, row))) throw notFound;
    return this.revokeTokens([row.id]);
  }

  async revokeTokens(ids: string[]): Promise<number> {
    const count = await this.#store.db.transaction().execute(async (trx) => {
      const revoked = await revokeTree(trx, ids, this.#clock());
      await this.#store.changes.announce(trx, { kind: "token", id: ids[0] ?? "" });
      return revoked;
    });
    this.#store.changes.apply({ kind: "token", id: ids[0] ?? "" });
    return count;
  }

  async #mayRevokeOthers(principal: Principal, row: TokenRow): Promise<boolean> {
    if (principal.scope.scope.maxLevel !== "manage") return false;
    if (principal.isAdmin) return true;
    if (!row.principalId.startsWith("sa_") || principal.kind !== "user") return false;
    const account = await findServiceAccountById(this.#store.db, row.principalId);
    if (!account) return false;
    try {
      const access = await this.#workspaces.access(principal, account.workspaceId);
      requireWorkspaceAdmin(principal, access, "revoke service account tokens");
      return true;
    } catch {
      return false;
    }
  }

  async #scopeFrom(principal: Principal, input: ScopeInput, base: TokenScope): Promise<TokenScope> {
    const fields = scopeFields(input, base);
    if (input.workspace !== undefined) {
      fields.workspaceId = (await this.#workspaces.access(principal, input.workspace)).workspace.id;
    }
    return checkScope(fields);
  }
}

function scopeFields(input: ScopeInput, base: TokenScope): TokenScope {
  const access = input.access ?? base.maxLevel;
  if (!Object.hasOwn(LEVELS, access) || access === "none") throw invalid("access must be one of see, use, read, write, manage");
  return {
    workspaceId: base.workspaceId,
    secrets: input.secrets ?? base.secrets,
    maxLevel: access as Level,
    cidrs: input.cidrs ?? base.cidrs,
    acl: base.acl,
  };
}

const LABEL_VALUE = /^[A-Za-z0-9_.:@\/+-]{1,64}$/;

/** Labels and cap as given: labels are 1 to 64 characters of [A-Za-z0-9_.:@/+-], so an audit line stays one line. */
function relayFields(input: ScopeInput): { labels?: Record<string, string>; relayUsesPerHour?: number } {
  const out: { labels?: Record<string, string>; relayUsesPerHour?: number } = {};
  if (input.labels !== undefined) {
    const labels: Record<string, string> = {};
    for (const [name, value] of Object.entries(input.labels)) {
      if (value === undefined) continue;
      if (name !== "agent" && name !== "session") throw invalid("labels are agent and session");
      if (!LABEL_VALUE.test(value)) throw invalid(`label ${name} is 1 to 64 characters of letters, digits and _.:@/+-`);
      labels[name] = value;
    }
    out.labels = labels;
  }
  if (input.relayUsesPerHour !== undefined) {
    if (!Number.isInteger(input.relayUsesPerHour) || input.relayUsesPerHour < 1 || input.relayUsesPerHour > 1_000_000) throw invalid("relayUsesPerHour is an integer from 1 to 1000000");
    out.relayUsesPerHour = input.relayUsesPerHour;
  }
  return out;
}

function tokenName(name: string | undefined): string {
  const value = name ?? "api";
  if (value.length < 1 || value.length > 100) throw invalid("token names are 1 to 100 characters");
  return value;
}

function checkTtl(ttl: number | undefined): void {
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS)) {
    throw invalid(`ttl is a whole number of seconds from 1 to ${MAX_TTL_SECONDS}`);
  }
}

function expiry(now: number, ttl: number | undefined): number | null {
  checkTtl(ttl);
  return ttl === undefined ? null : now + ttl * 1000;
}

interface Lease {
  renewable: boolean;
  ttlSeconds: number | null;
  maxExpiresAt: number | null;
  periodSeconds: number | null;
  meta: Record<string, string> | null;
  policies: string[] | null;
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function expired(row: TokenRow, now: number): boolean {
  return row.expiresAt !== null && row.expiresAt <= now;
}

export function viewOf(row: TokenRow): TokenView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    principalId: row.principalId,
    parentId: row.parentId,
    workspaceId: row.workspaceId,
    secrets: row.secrets === null ? null : JSON.parse(row.secrets),
    access: row.maxLevel as Level,
    cidrs: row.cidrs === null ? null : JSON.parse(row.cidrs),
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    labels: row.labels === null ? {} : JSON.parse(row.labels),
    relayUsesPerHour: row.relayUsesPerHour,
    renewable: row.renewable === 1,
    ttlSeconds: row.ttlSeconds,
    maxExpiresAt: row.maxExpiresAt,
    periodSeconds: row.periodSeconds,
    meta: row.meta === null ? null : JSON.parse(row.meta),
    policies: row.policies === null ? null : JSON.parse(row.policies),
  };
}
