/**
 * Workspaces isolate projects. A caller who is not a member gets
 * WORKSPACE_NOT_FOUND, never a hint that the workspace exists. Instance
 * admins act as owners of every workspace.
 */
import { Cache } from "../core/cache.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { newId } from "../crypto/generate.ts";
import { denied, ROLES, type Role } from "../identity/access.ts";
import { requireInstanceAdmin, requireWorkspaceAdmin } from "../identity/guards.ts";
import type { Principal } from "../identity/principal.ts";
import { changeAccess } from "../access/access.service.ts";
import { revokeTree } from "../identity/token.repository.ts";
import { checkRateLimit, type RateLimits, type RateLimitSettings } from "../limits/rate-limits.ts";
import type { Store } from "../store/store.ts";
import {
  countPersonalSecrets,
  deleteMembership,
  deleteWorkspace,
  findRole,
  findUserByRef,
  findWorkspace,
  insertGroup,
  insertMembership,
  insertWorkspace,
  listMembers,
  listWorkspacesOf,
  tokenIdsBoundTo,
  updateWorkspaceSettings,
  upsertMembership,
  type WorkspaceRow,
} from "./workspace.repository.ts";
import type { WorkspaceAccess } from "./workspace-access.ts";

export const DEFAULT_MAX_VERSIONS = 10;
/** The warning of a secret's expiry goes out this many days before it, unless the workspace says otherwise. */
export const DEFAULT_EXPIRY_WARNING_DAYS = 7;
export const MAX_VERSIONS_LIMIT = 1000;
/** Ten years, in seconds: the longest delete-after a workspace or secret takes. */
export const MAX_DELETE_AFTER_SECONDS = 10 * 365 * 86400;
const WORKSPACE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export interface MemberView {
  userId: string;
  username: string;
  role: Role;
  disabled: boolean;
  personalSecrets: number;
  createdAt: number;
}

export const EVERYONE = "everyone";

/** Every workspace has it; every member and service account of the workspace is in it. */
export function everyoneGroup(workspaceId: string, now: number) {
  return { id: newId("grp"), workspaceId, name: EVERYONE, builtin: 1, createdAt: now };
}

export interface WorkspaceView {
  id: string;
  name: string;
  role: Role | null;
  maxVersions: number;
  /** Every write to a secret of the workspace must give check-and-set. */
  casRequired: boolean;
  /** Seconds after which new versions are deleted; 0: never. */
  deleteVersionAfter: number;
  /** The per-token limits in force: the workspace's own, else the server's defaults. */
  rateLimits: RateLimitSettings;
  /** Days before a secret's expiry that the warning alert goes out. */
  expiryWarningDays: number;
  /** Days without a read or use after which a secret is reported unused; null: not reported. */
  unusedAlertDays: number | null;
  createdAt: number;
}

export interface WorkspaceSettings {
  maxVersions?: number | undefined;
  casRequired?: boolean | undefined;
  deleteVersionAfter?: number | undefined;
  /** Either limit, or null to follow the server's defaults again. */
  rateLimits?: { readsPerSecond?: number | undefined; writesPerSecond?: number | undefined } | null | undefined;
  expiryWarningDays?: number | undefined;
  /** null: no unused-secret alerts. */
  unusedAlertDays?: number | null | undefined;
}

/** Workspaces each node keeps in memory by id and by name (--workspace-cache). */
export const DEFAULT_WORKSPACE_CACHE = 10_000;
/** Principals' roles in workspaces each node keeps in memory (--role-cache): ~100 bytes each. */
export const DEFAULT_ROLE_CACHE = 100_000;

export class WorkspaceService {
  #store: Store;
  #clock: Clock;
  #limits: RateLimits;
  #workspaces: Cache<string, WorkspaceRow>;
  #roles: Cache<string, Role | null>;

  constructor(store: Store, clock: Clock, limits: RateLimits, caches: { workspaces?: number; roles?: number } = {}) {
    this.#workspaces = new Cache(caches.workspaces ?? DEFAULT_WORKSPACE_CACHE);
    this.#roles = new Cache(caches.roles ?? DEFAULT_ROLE_CACHE);
    this.#store = store;
    this.#clock = clock;
    this.#limits = limits;
    store.changes.subscribe((change) => {
      if (change.kind === "workspace" || change.kind === "access" || change.kind === "all") {
        this.#workspaces.clear();
        this.#roles.clear();
      }
    });
  }

  /** A workspace's id from its id or name, if it is cached (the audit log's lookup on the read path). */
  cachedId(idOrName: string): string | undefined {
    return this.#workspaces.get(idOrName)?.id;
  }

  /** A workspace's id from its id or name, whoever asks (the audit log names the workspace a refused request aimed at). */
  async idOf(idOrName: string): Promise<string | undefined> {
    return (await this.#find(idOrName))?.id;
  }

  /** The same answer as access() when everything it needs is cached (the read path's case), else undefined. */
  cachedAccess(principal: Principal, idOrName: string): WorkspaceAccess | undefined {
    const workspace = this.#workspaces.get(idOrName);
    if (!workspace || (principal.scope.scope.workspaceId !== null && principal.scope.scope.workspaceId !== workspace.id)) return undefined;
    const role = this.#cachedRole(workspace.id, principal);
    return role ? { workspace, role } : undefined;
  }

  /** The workspace and the caller's role in it; WORKSPACE_NOT_FOUND unless the caller belongs there. */
  async access(principal: Principal, idOrName: string): Promise<WorkspaceAccess> {
    const workspace = await this.#find(idOrName);
    const reachable = workspace && (principal.scope.scope.workspaceId === null || principal.scope.scope.workspaceId === workspace.id);
    const role = reachable ? await this.#role(workspace.id, principal) : undefined;
    if (!workspace || !role) throw new CofferError("WORKSPACE_NOT_FOUND", `workspace '${idOrName}' was not found`);
    return { workspace, role };
  }

  async list(principal: Principal): Promise<WorkspaceView[]> {
    const rows = await listWorkspacesOf(this.#store.db, principal.id, principal.isAdmin);
    const scoped = principal.scope.scope.workspaceId;
    const home = principal.homeWorkspaceId;
    return rows
      .filter((row) => (scoped === null || row.id === scoped) && (principal.kind === "user" || row.id === home))
      .map((row) =>
        this.#view(row, principal.isAdmin ? "owner" : principal.kind === "service_account" ? "member" : ((row.role as Role | null) ?? null)),
      );
  }

  /** A workspace and its settings, as its members see it. */
  async get(principal: Principal, idOrName: string): Promise<WorkspaceView> {
    const { workspace, role } = await this.access(principal, idOrName);
    return this.#view(workspace, role ?? null);
  }

  async create(principal: Principal, input: { name: string } & WorkspaceSettings): Promise<WorkspaceView> {
    requireInstanceAdmin(principal, "create workspaces");
    if (!WORKSPACE_NAME.test(input.name)) {
      throw invalid("workspace names are 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit");
    }
    const now = this.#clock();
    const initial = { ...INITIAL_SETTINGS, readsPerSecond: null, writesPerSecond: null };
    const row: WorkspaceRow = { id: newId("ws"), name: input.name, ...checkSettings(input, initial), createdAt: now };
    await this.#store.db.transaction().execute(async (trx) => {
      if (await findWorkspace(trx, input.name)) {
        throw new CofferError("WORKSPACE_ALREADY_EXISTS", `workspace '${input.name}' already exists`);
      }
      await insertWorkspace(trx, row);
      await insertGroup(trx, everyoneGroup(row.id, now));
      await insertMembership(trx, { workspaceId: row.id, userId: principal.id, role: "owner", createdAt: now });
      await this.#store.changes.announce(trx, { kind: "workspace", id: row.id });
    });
    this.#store.changes.apply({ kind: "workspace", id: row.id });
    return this.#view(row, "owner");
  }

  async updateSettings(principal: Principal, idOrName: string, settings: WorkspaceSettings): Promise<WorkspaceView> {
    const access = await this.access(principal, idOrName);
    const { workspace, role } = access;
    requireWorkspaceAdmin(principal, access, "change settings");
    const next = checkSettings(settings, workspace);
    await this.#store.db.transaction().execute(async (trx) => {
      await updateWorkspaceSettings(trx, workspace.id, next);
      await this.#store.changes.announce(trx, { kind: "workspace", id: workspace.id });
    });
    this.#store.changes.apply({ kind: "workspace", id: workspace.id });
    return this.#view({ ...workspace, ...next }, role ?? null);
  }

  /** Removes a workspace with everything in it, and revokes the tokens bound to it (administrators). */
  async remove(principal: Principal, idOrName: string): Promise<void> {
    requireInstanceAdmin(principal, "delete workspaces");
    const workspace = await findWorkspace(this.#store.db, idOrName);
    if (!workspace) throw new CofferError("WORKSPACE_NOT_FOUND", `workspace '${idOrName}' was not found`);
    await this.#store.db.transaction().execute(async (trx) => {
      await revokeTree(trx, await tokenIdsBoundTo(trx, workspace.id), this.#clock());
      await deleteWorkspace(trx, workspace.id);
      // Every cache may hold something of it: workspaces, roles, grants, secrets, principals of its service accounts.
      await this.#store.changes.announce(trx, { kind: "all" });
    });
    this.#store.changes.apply({ kind: "all" });
  }

  #view(row: WorkspaceRow, role: Role | null): WorkspaceView {
    return { id: row.id, name: row.name, role, ...settingsOf(row), rateLimits: this.#limits.of(row), createdAt: row.createdAt };
  }

  async #find(idOrName: string): Promise<WorkspaceRow | undefined> {
    const cached = this.#workspaces.get(idOrName);
    if (cached) return cached;
    const epoch = this.#workspaces.epoch;
    const row = await findWorkspace(this.#store.db, idOrName);
    if (row) this.#workspaces.set(idOrName, row, epoch);
    return row;
  }

  /** Members with their roles, and how many personal secrets each keeps here (never what they are). */
  async members(principal: Principal, idOrName: string): Promise<MemberView[]> {
    const access = await this.access(principal, idOrName);
    requireWorkspaceAdmin(principal, access, "list members");
    const db = this.#store.db;
    const [rows, personal] = await Promise.all([listMembers(db, access.workspace.id), countPersonalSecrets(db, access.workspace.id)]);
    return rows.map((row) => ({
      userId: row.id,
      username: row.username,
      role: row.role as Role,
      disabled: row.disabledAt !== null,
      personalSecrets: personal.get(row.id) ?? 0,
      createdAt: row.createdAt,
    }));
  }

  /** Adds a user to the workspace or changes its role. Only owners hand out or take away ownership. */
  async setMember(principal: Principal, idOrName: string, userRef: string, role: string): Promise<MemberView> {
    const access = await this.access(principal, idOrName);
    requireWorkspaceAdmin(principal, access, "manage members");
    if (!(ROLES as readonly string[]).includes(role)) throw invalid(`role must be one of ${ROLES.join(", ")}`);
    const user = await this.findUser(userRef);
    const current = await findRole(this.#store.db, access.workspace.id, user.id);
    if ((role === "owner" || current?.role === "owner") && access.role !== "owner") throw denied("only owners add or change owners");
    const now = this.#clock();
    await changeAccess(this.#store, access.workspace.id, (trx) =>
      upsertMembership(trx, { workspaceId: access.workspace.id, userId: user.id, role, createdAt: now }),
    );
    return { userId: user.id, username: user.username, role: role as Role, disabled: user.disabledAt !== null, personalSecrets: 0, createdAt: now };
  }

  async findUser(ref: string): Promise<{ id: string; username: string; disabledAt: number | null }> {
    const user = await findUserByRef(this.#store.db, ref);
    if (!user) throw new CofferError("NOT_FOUND", `no user '${ref}'`);
    return user;
  }

  /** Removes a member, its group memberships and its grants in the workspace; its personal secrets stay until deleted. */
  async removeMember(principal: Principal, idOrName: string, userRef: string): Promise<void> {
    const access = await this.access(principal, idOrName);
    requireWorkspaceAdmin(principal, access, "manage members");
    const user = await findUserByRef(this.#store.db, userRef);
    const current = user ? await findRole(this.#store.db, access.workspace.id, user.id) : undefined;
    if (!user || !current) throw new CofferError("NOT_FOUND", `'${userRef}' is not a member of this workspace`);
    if (current.role === "owner" && access.role !== "owner") throw denied("only owners remove owners");
    await changeAccess(this.#store, access.workspace.id, (trx) => deleteMembership(trx, access.workspace.id, user.id));
  }

  /** The caller's role, null for none, undefined when not cached. */
  #cachedRole(workspaceId: string, principal: Principal): Role | null | undefined {
    if (principal.isAdmin) return "owner";
    // A service account belongs to one workspace and reaches secrets through grants only, like a member.
    if (principal.kind === "service_account") return principal.homeWorkspaceId === workspaceId ? "member" : null;
    return this.#roles.get(`${workspaceId}\u0000${principal.id}`);
  }

  async #role(workspaceId: string, principal: Principal): Promise<Role | undefined> {
    const cached = this.#cachedRole(workspaceId, principal);
    if (cached !== undefined) return cached ?? undefined;
    const key = `${workspaceId}\u0000${principal.id}`;
    const epoch = this.#roles.epoch;
    const row = await findRole(this.#store.db, workspaceId, principal.id);
    const role = (row?.role as Role | undefined) ?? null;
    this.#roles.set(key, role, epoch);
    return role ?? undefined;
  }
}

/** The stored limits after a change: the given ones set, null resets both to the server's defaults, the rest kept. */
function rateLimitColumns(change: WorkspaceSettings["rateLimits"], current: Pick<WorkspaceRow, "readsPerSecond" | "writesPerSecond">) {
  if (change === null) return { readsPerSecond: null, writesPerSecond: null };
  return {
    readsPerSecond: change?.readsPerSecond === undefined ? current.readsPerSecond : checkRateLimit("readsPerSecond", change.readsPerSecond),
    writesPerSecond: change?.writesPerSecond === undefined ? current.writesPerSecond : checkRateLimit("writesPerSecond", change.writesPerSecond),
  };
}

export function checkMaxVersions(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_VERSIONS_LIMIT) {
    throw invalid(`maxVersions must be an integer from 1 to ${MAX_VERSIONS_LIMIT}`);
  }
  return value;
}

export function checkDeleteAfter(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_DELETE_AFTER_SECONDS) {
    throw invalid(`deleteVersionAfter is a whole number of seconds from 0 (never) to ${MAX_DELETE_AFTER_SECONDS}`);
  }
  return value;
}

type StoredSettings = Pick<WorkspaceRow, "maxVersions" | "casRequired" | "deleteVersionAfter" | "readsPerSecond" | "writesPerSecond" | "expiryWarningDays" | "unusedAlertDays">;

/** A new workspace's settings (apart from rate limits, which follow the server's until set). */
export const INITIAL_SETTINGS = {
  maxVersions: DEFAULT_MAX_VERSIONS,
  casRequired: 0,
  deleteVersionAfter: 0,
  expiryWarningDays: DEFAULT_EXPIRY_WARNING_DAYS,
  unusedAlertDays: null,
} as const satisfies Partial<StoredSettings>;

/** The longest notice of an expiry, and the longest idle time before a secret counts as unused: ten years. */
export const MAX_ALERT_DAYS = 3650;

export function checkAlertDays(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_ALERT_DAYS) throw invalid(`${name} must be a whole number of days from 1 to ${MAX_ALERT_DAYS}`);
  return value;
}

function checkSettings(settings: WorkspaceSettings, current: StoredSettings): StoredSettings {
  return {
    maxVersions: checkMaxVersions(settings.maxVersions ?? current.maxVersions),
    casRequired: settings.casRequired === undefined ? current.casRequired : settings.casRequired ? 1 : 0,
    deleteVersionAfter: checkDeleteAfter(settings.deleteVersionAfter ?? current.deleteVersionAfter),
    ...rateLimitColumns(settings.rateLimits, current),
    expiryWarningDays: checkAlertDays("expiryWarningDays", settings.expiryWarningDays ?? current.expiryWarningDays),
    unusedAlertDays: settings.unusedAlertDays === undefined ? current.unusedAlertDays : settings.unusedAlertDays === null ? null : checkAlertDays("unusedAlertDays", settings.unusedAlertDays),
  };
}

function settingsOf(row: StoredSettings): Pick<WorkspaceView, "maxVersions" | "casRequired" | "deleteVersionAfter" | "expiryWarningDays" | "unusedAlertDays"> {
  return {
    maxVersions: row.maxVersions,
    casRequired: row.casRequired === 1,
    deleteVersionAfter: Number(row.deleteVersionAfter),
    expiryWarningDays: row.expiryWarningDays,
    unusedAlertDays: row.unusedAlertDays,
  };
}
