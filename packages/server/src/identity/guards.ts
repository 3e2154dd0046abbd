/**
 * The checks for administrative actions. Being an administrator is not
 * enough: the token must not be narrowed (a read-only or pattern-bound token
 * of an admin acts like that, not like the admin).
 */
import { denied, isWorkspaceAdmin } from "./access.ts";
import type { Principal } from "./principal.ts";
import { isFullScope } from "./token-scope.ts";
import type { WorkspaceAccess } from "../workspace/workspace-access.ts";

export function requireInstanceAdmin(principal: Principal, what: string): void {
  if (!principal.isAdmin || !isFullScope(principal.scope.scope)) throw denied(`only administrators ${what}`);
}

export function requireWorkspaceAdmin(principal: Principal, access: WorkspaceAccess, what: string): void {
  if (!isWorkspaceAdmin(access.role) || principal.kind !== "user" || principal.scope.scope.maxLevel !== "manage" || principal.scope.scope.secrets !== null) {
    throw denied(`only workspace owners and admins ${what}`);
  }
}

/** Minting independent tokens needs a token that could do everything its identity can. */
export function requireFullToken(principal: Principal, what: string): void {
  if (!isFullScope(principal.scope.scope)) throw denied(`a narrowed token cannot ${what}; use a child token instead`);
}
