/** Who is calling: resolved from a token once, then cached. Never holds the token itself. */
import type { CompiledScope } from "./token-scope.ts";

export interface Principal {
  kind: "user" | "service_account";
  /** usr_… or sa_…: what grants, group memberships and `created_by` columns name. */
  id: string;
  /** Username, or a service account's name. */
  name: string;
  /** Instance administrator: manages users, workspaces, keys, and every workspace as an owner. */
  isAdmin: boolean;
  /** A service account's workspace; null for users. */
  homeWorkspaceId: string | null;
  tokenId: string;
  tokenKind: "session" | "api" | "child";
  expiresAt: number | null;
  scope: CompiledScope;
  /** The Vault policy names the token was created with (their rules are in scope); null: none. */
  policies: string[] | null;
}
