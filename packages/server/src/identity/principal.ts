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
  /** Attribution the token carries for audit events (agent, session); the relay's X-Coffer-* headers take precedence. */
  labels?: Readonly<Record<string, string>>;
  /** Relayed uses per secret per hour this token may make; null/undefined: no cap. */
  relayUsesPerHour?: number | null;
  /** The Vault policy names the token was created with (their rules are in scope); null: none. */
  policies: string[] | null;
}
