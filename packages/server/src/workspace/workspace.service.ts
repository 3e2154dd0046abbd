/**
 * Workspaces isolate projects. A caller who is not a member gets
 * WORKSPACE_NOT_FOUND, never a hint that the workspace exists. Instance
 * admins act as owners of every workspace.
 */
import { Cache } from "../core/cache.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { newId } from "../crypto/generate.ts";
import { denied, isWorkspaceAdmin, type Role } from "../identity/access.ts";
import type { Principal } from "../identity/principal.ts";
import type { Store } from "../store/store.ts";
import {
  findRole,
  findWorkspace,
  insertMembership,
  insertWorkspace,
  listWorkspacesOf,
  updateWorkspaceSettings,
  type WorkspaceRow,
} from "./workspace.repository.ts";

export const DEFAULT_MAX_VERSIONS = 10;
export const MAX_VERSIONS_LIMIT = 1000;
const WORKSPACE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export interface WorkspaceAccess {
  workspace: WorkspaceRow;
  role: Role | undefined;
}

export interface WorkspaceView {
  id: string;
  name: string;
  role: Role | null;
  maxVersions: number;
  createdAt: number;
}

export class WorkspaceService {
  #store: Store;
  #clock: Clock;
  #workspaces = new Cache<string, WorkspaceRow>(10_000);
  #roles = new Cache<string, Role | null>(100_000);

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
    store.changes.subscribe((change) => {
      if (change.kind === "workspace" || change.kind === "all") {
        this.#workspaces.clear();
        this.#roles.clear();
      }
    });
  }

  /** The workspace and the caller's role in it; WORKSPACE_NOT_FOUND unless the caller belongs there. */
  async access(principal: Principal, idOrName: string): Promise<WorkspaceAccess> {
    const workspace = await this.#find(idOrName);
    const role = workspace ? await this.#role(workspace.id, principal) : undefined;
    if (!workspace || !role) throw new CofferError("WORKSPACE_NOT_FOUND", `workspace '${idOrName}' was not found`);
    return { workspace, role };
  }

  async list(principal: Principal): Promise<WorkspaceView[]> {
    const rows = await listWorkspacesOf(this.#store.db, principal.userId, principal.isAdmin);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      role: principal.isAdmin ? "owner" : ((row.role as Role | null) ?? null),
      maxVersions: row.maxVersions,
      createdAt: row.createdAt,
    }));
  }

  async create(principal: Principal, input: { name: string; maxVersions?: number | undefined }): Promise<WorkspaceView> {
    if (!principal.isAdmin) throw denied("only administrators create workspaces");
    if (!WORKSPACE_NAME.test(input.name)) {
      throw invalid("workspace names are 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit");
    }
    const maxVersions = checkMaxVersions(input.maxVersions ?? DEFAULT_MAX_VERSIONS);
    const now = this.#clock();
    const row: WorkspaceRow = { id: newId("ws"), name: input.name, maxVersions, createdAt: now };
    await this.#store.db.transaction().execute(async (trx) => {
      if (await findWorkspace(trx, input.name)) {
        throw new CofferError("WORKSPACE_ALREADY_EXISTS", `workspace '${input.name}' already exists`);
      }
      await insertWorkspace(trx, row);
      await insertMembership(trx, { workspaceId: row.id, userId: principal.userId, role: "owner", createdAt: now });
      await this.#store.changes.announce(trx, { kind: "workspace", id: row.id });
    });
    this.#store.changes.apply({ kind: "workspace", id: row.id });
    return { ...row, role: "owner" };
  }

  async updateSettings(principal: Principal, idOrName: string, settings: { maxVersions?: number | undefined }): Promise<WorkspaceView> {
    const { workspace, role } = await this.access(principal, idOrName);
    if (!isWorkspaceAdmin(role)) throw denied("only workspace owners and admins change settings");
    const maxVersions = checkMaxVersions(settings.maxVersions ?? workspace.maxVersions);
    await this.#store.db.transaction().execute(async (trx) => {
      await updateWorkspaceSettings(trx, workspace.id, { maxVersions });
      await this.#store.changes.announce(trx, { kind: "workspace", id: workspace.id });
    });
    this.#store.changes.apply({ kind: "workspace", id: workspace.id });
    return { ...workspace, maxVersions, role: role ?? null };
  }

  async #find(idOrName: string): Promise<WorkspaceRow | undefined> {
    const cached = this.#workspaces.get(idOrName);
    if (cached) return cached;
    const epoch = this.#workspaces.epoch;
    const row = await findWorkspace(this.#store.db, idOrName);
    if (row) this.#workspaces.set(idOrName, row, epoch);
    return row;
  }

  async #role(workspaceId: string, principal: Principal): Promise<Role | undefined> {
    if (principal.isAdmin) return "owner";
    const key = `${workspaceId}\u0000${principal.userId}`;
    const cached = this.#roles.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const epoch = this.#roles.epoch;
    const row = await findRole(this.#store.db, workspaceId, principal.userId);
    const role = (row?.role as Role | undefined) ?? null;
    this.#roles.set(key, role, epoch);
    return role ?? undefined;
  }
}

function checkMaxVersions(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_VERSIONS_LIMIT) {
    throw invalid(`maxVersions must be an integer from 1 to ${MAX_VERSIONS_LIMIT}`);
  }
  return value;
}
