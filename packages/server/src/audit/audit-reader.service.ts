/**
 * Who may read the audit log: instance administrators all of it; workspace
 * owners and admins the events of their workspace. Verifying the chain
 * walks every event, so it is for instance administrators.
 */
import { requireInstanceAdmin, requireWorkspaceAdmin } from "../identity/guards.ts";
import { isFullScope } from "../identity/token-scope.ts";
import type { Principal } from "../identity/principal.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import type { AuditFilter } from "./audit.repository.ts";
import type { AuditLog, VerifyResult } from "./audit.service.ts";
import type { AuditRecord } from "./audit.types.ts";

export interface AuditQuery extends Omit<AuditFilter, "workspaceId" | "workspaceIds"> {
  /** Workspace id or name; required unless the caller is an instance administrator. */
  workspace?: string | undefined;
}

export interface AuditPage {
  before?: number | undefined;
  after?: number | undefined;
  limit?: number | undefined;
}

const EXPORT_PAGE = 1000;

export class AuditReader {
  #log: AuditLog;
  #workspaces: WorkspaceService;

  constructor(log: AuditLog, workspaces: WorkspaceService) {
    this.#log = log;
    this.#workspaces = workspaces;
  }

  async list(principal: Principal, query: AuditQuery, page: AuditPage): Promise<{ events: AuditRecord[]; next?: number }> {
    return this.#log.query(await this.#filterFor(principal, query), page);
  }

  /** Every matching event, oldest first, a page at a time (JSON-lines export). */
  async *export(principal: Principal, query: AuditQuery): AsyncGenerator<AuditRecord> {
    const filter = await this.#filterFor(principal, query);
    let after = 0;
    for (;;) {
      const { events, next } = await this.#log.query(filter, { after, limit: EXPORT_PAGE });
      yield* events;
      if (next === undefined) return;
      after = next;
    }
  }

  verify(principal: Principal): Promise<VerifyResult> {
    requireInstanceAdmin(principal, "verify the whole audit log");
    return this.#log.verify();
  }

  async #filterFor(principal: Principal, { workspace, ...rest }: AuditQuery): Promise<AuditFilter> {
    const instanceWide = principal.isAdmin && isFullScope(principal.scope.scope);
    if (workspace === undefined) {
      requireInstanceAdmin(principal, "read the whole audit log; workspace admins add ?workspace=NAME");
      return rest;
    }
    const access = await this.#workspaces.access(principal, workspace);
    if (!instanceWide) requireWorkspaceAdmin(principal, access, "read a workspace's audit log");
    return { ...rest, workspaceId: access.workspace.id };
  }
}
