/**
 * Who may do what to a secret. The decision is one comparison on the ordered
 * levels (access.ts): the highest of the caller's workspace role and every
 * grant to the caller, its groups and `everyone`, capped by its token's scope.
 *
 * It runs on every read, so each workspace's grants and group memberships
 * are held in memory, loaded in two queries on first use and dropped on any
 * change to them (on every node, through the change feed). At most
 * `cachedWorkspaces` are held (--acl-cache), the first loaded dropped first.
 */
import type { Store } from "../store/store.ts";
import { LEVELS, sharedLevelOfRole, type Level } from "../identity/access.ts";
import type { Principal } from "../identity/principal.ts";
import type { WorkspaceAccess } from "../workspace/workspace-access.ts";
import { findEveryoneGroup, listGrantsOfWorkspace, listGroupMembersOfWorkspace } from "./access.repository.ts";


export interface WorkspaceAcl {
  /** secret id → subject id (user, group or service account) → level */
  grants: Map<string, Map<string, Level>>;
  /** member id → the groups it belongs to, `everyone` excluded (everyone holds every member) */
  groupsOf: Map<string, string[]>;
  everyoneId: string | null;
}

/** What a secret row must tell the access decision. */
export interface SecretAccessFacts {
  id: string;
  name: string;
  scope: string;
  ownerId: string;
}

/** Workspaces whose grants a node holds unless the server is told otherwise (--acl-cache). */
export const DEFAULT_ACL_CACHE = 1_000;

export class AccessService {
  #store: Store;
  #capacity: number;
  #acls = new Map<string, Promise<WorkspaceAcl>>();
  /** The loaded ones, for the read path to use without waiting on a promise. */
  #loaded = new Map<string, WorkspaceAcl>();

  constructor(store: Store, cachedWorkspaces: number) {
    this.#store = store;
    this.#capacity = cachedWorkspaces;
    store.changes.subscribe((change) => {
      if (change.kind === "access") {
        this.#acls.delete(change.workspaceId);
        this.#loaded.delete(change.workspaceId);
      } else if (change.kind === "all") {
        this.#acls.clear();
        this.#loaded.clear();
      }
    });
  }

  loadedAcl(workspaceId: string): WorkspaceAcl | undefined {
    return this.#loaded.get(workspaceId);
  }

  acl(workspaceId: string): Promise<WorkspaceAcl> {
    let acl = this.#acls.get(workspaceId);
    if (!acl) {
      if (this.#capacity === 0) return this.#load(workspaceId);
      if (this.#acls.size >= this.#capacity) {
        // A load still under way for the dropped workspace no longer finds itself in #acls, so it is not kept.
        const oldest = this.#acls.keys().next().value!;
        this.#acls.delete(oldest);
        this.#loaded.delete(oldest);
      }
      const loading = this.#load(workspaceId);
      acl = loading;
      this.#acls.set(workspaceId, loading);
      loading.then(
        // Only if no change dropped it while it loaded.
        (value) => this.#acls.get(workspaceId) === loading && this.#loaded.set(workspaceId, value),
        // A failed load must not stay cached.
        () => this.#acls.get(workspaceId) === loading && this.#acls.delete(workspaceId),
      );
    }
    return acl;
  }

  /** The caller's level on one secret. */
  levelOn(principal: Principal, access: WorkspaceAccess, acl: WorkspaceAcl, secret: SecretAccessFacts): Level {
    let level: Level;
    if (secret.scope === "personal") {
      level = secret.ownerId === principal.id ? "manage" : "none";
    } else {
      level = sharedLevelOfRole(access.role);
      const grants = acl.grants.get(secret.id);
      if (grants) level = highest(level, grantedTo(grants, principal.id, acl));
    }
    return lowest(level, principal.scope.levelCap(secret.name));
  }

  /** Ids of the shared secrets granted to the caller, directly or through a group: what a member's list shows. */
  grantedSecretIds(principal: Principal, acl: WorkspaceAcl): string[] {
    const ids: string[] = [];
    for (const [secretId, grants] of acl.grants) {
      if (LEVELS[grantedTo(grants, principal.id, acl)] >= LEVELS.see) ids.push(secretId);
    }
    return ids;
  }

  async #load(workspaceId: string): Promise<WorkspaceAcl> {
    const db = this.#store.db;
    const [grantRows, memberRows, everyone] = await Promise.all([
      listGrantsOfWorkspace(db, workspaceId),
      listGroupMembersOfWorkspace(db, workspaceId),
      findEveryoneGroup(db, workspaceId),
    ]);
    const grants = new Map<string, Map<string, Level>>();
    for (const row of grantRows) {
      let subjects = grants.get(row.secretId);
      if (!subjects) grants.set(row.secretId, (subjects = new Map()));
      subjects.set(row.subjectId, row.level as Level);
    }
    const groupsOf = new Map<string, string[]>();
    for (const row of memberRows) {
      const groups = groupsOf.get(row.memberId);
      if (groups) groups.push(row.groupId);
      else groupsOf.set(row.memberId, [row.groupId]);
    }
    return { grants, groupsOf, everyoneId: everyone?.id ?? null };
  }
}

/**
 * Runs a change to who may do what in a workspace (grants, groups,
 * memberships) and drops the cached roles and grants of that workspace on
 * every node when it commits.
 */
export async function changeAccess<T>(store: Store, workspaceId: string, fn: (trx: Store["db"]) => Promise<T>): Promise<T> {
  const result = await store.db.transaction().execute(async (trx) => {
    const value = await fn(trx);
    await store.changes.announce(trx, { kind: "access", workspaceId });
    return value;
  });
  store.changes.apply({ kind: "access", workspaceId });
  return result;
}

function grantedTo(grants: Map<string, Level>, subjectId: string, acl: WorkspaceAcl): Level {
  let level = grants.get(subjectId) ?? "none";
  if (acl.everyoneId) level = highest(level, grants.get(acl.everyoneId) ?? "none");
  for (const group of acl.groupsOf.get(subjectId) ?? []) level = highest(level, grants.get(group) ?? "none");
  return level;
}

function highest(a: Level, b: Level): Level {
  return LEVELS[a] >= LEVELS[b] ? a : b;
}

function lowest(a: Level, b: Level): Level {
  return LEVELS[a] <= LEVELS[b] ? a : b;
}

