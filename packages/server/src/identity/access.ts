/**
 * Access is one ordered scale, so every check is a single comparison:
 * see (metadata) < use (Coffer uses the value for the caller) < read (reveal)
 * < write < manage. Grants and token scopes will each hold one level.
 */
import { WORKSPACE_ROLES } from "@coffer/protocol";
import { CofferError } from "../core/errors.ts";

export const LEVELS = { none: 0, see: 1, use: 2, read: 3, write: 4, manage: 5 } as const;
export type Level = keyof typeof LEVELS;

export const ROLES = WORKSPACE_ROLES;
export type Role = (typeof ROLES)[number];

/** The level a workspace role gives over every shared secret of the workspace. */
export function sharedLevelOfRole(role: Role | undefined): Level {
  if (role === "owner" || role === "admin") return "manage";
  return role === "viewer" ? "see" : "none";
}

export function atLeast(level: Level, required: Level): boolean {
  return LEVELS[level] >= LEVELS[required];
}

export function isWorkspaceAdmin(role: Role | undefined): boolean {
  return role === "owner" || role === "admin";
}

export function denied(message = "you are not allowed to do this"): CofferError {
  return new CofferError("ACCESS_DENIED", message);
}
