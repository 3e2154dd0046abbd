/**
 * What a caller has in one workspace: the workspace and their role in it.
 * Plain data in its own module, so the guards and the access service can take
 * it without importing the workspace service, which calls both of them.
 */
import type { Role } from "../identity/access.ts";
import type { WorkspaceRow } from "./workspace.repository.ts";

export interface WorkspaceAccess {
  workspace: WorkspaceRow;
  role: Role | undefined;
}
