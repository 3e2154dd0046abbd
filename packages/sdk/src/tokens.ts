/** API tokens: made for the caller, for one of its runs (child tokens) or for a service account. */

/** What tokens need of a Coffer client (not an import of it: index.ts imports this module). */
interface TokenCaller {
  call<T>(route: "createToken" | "createChildToken" | "createServiceAccountToken" | "listTokens" | "revokeToken", params: Record<string, string>, options?: { body?: unknown }): Promise<T>;
}

export type AccessLevel = "see" | "use" | "read" | "write" | "manage";

export interface TokenOptions {
  name?: string;
  /** Only secrets whose names match (* and ? wildcards). */
  secrets?: string[];
  /** The highest level the token carries. */
  access?: AccessLevel;
  /** Lifetime in seconds. */
  ttl?: number;
  /** Only this workspace. */
  workspace?: string;
  /** Only from these source addresses. */
  cidrs?: string[];
  /** Who the token acts for, recorded with each relayed call: `{ agent: "support-bot", session: "run-42" }`. Children inherit them unless given. */
  labels?: Record<string, string>;
  /** Relayed calls allowed per secret per hour; a child's cap cannot exceed its parent's. */
  relayUsesPerHour?: number;
}

export interface TokenInfo {
  id: string;
  name: string;
  kind: string;
  principalId: string;
  parentId: string | null;
  workspaceId: string | null;
  secrets: string[] | null;
  access: string;
  cidrs: string[] | null;
  expiresAt: string | null;
  createdAt: string;
  labels?: Record<string, string>;
  relayUsesPerHour?: number | null;
}

/** A token as minted: `token` is shown in this answer only. */
export interface MintedToken {
  token: string;
  info: TokenInfo;
}

export class Tokens {
  #coffer: TokenCaller;

  constructor(coffer: TokenCaller) {
    this.#coffer = coffer;
  }

  /** A token for the caller. */
  create(options: TokenOptions = {}): Promise<MintedToken> {
    return this.#coffer.call("createToken", {}, { body: options });
  }

  /** A child of the calling token: never wider or longer-lived, revoked with it; one per agent run. */
  createChild(options: TokenOptions = {}): Promise<MintedToken> {
    return this.#coffer.call("createChildToken", {}, { body: options });
  }

  /** A token of a service account (workspace admins). */
  createForServiceAccount(account: string, options: Omit<TokenOptions, "workspace"> = {}): Promise<MintedToken> {
    return this.#coffer.call("createServiceAccountToken", { account }, { body: options });
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.#coffer.call<{ tokens: TokenInfo[] }>("listTokens", {})).tokens;
  }

  async revoke(id: string): Promise<void> {
    await this.#coffer.call("revokeToken", { id });
  }
}
