/**
 * Who may do what to a secret. The decision is one comparison on the ordered
 * levels (access.ts): the highest of the caller's workspace role and every
 * grant to the caller, its groups and `everyone`, capped by its token's scope.
 *
 * It runs on every read, so each workspace's grants and group memberships
 * are held in memory, loaded in two queries on first use and dropped on any
 * change to them (on every node, through the change feed). At most
 * `cachedWorkspaces` are held (--acl-cache), the first loaded dropped first,
 * a workspace counting once per started GRANTS_PER_WORKSPACE granted
 * secrets and group members.
 */
import type { Store } from "../store/store.ts";
import { LEVELS, sharedLevelOfRole, type Level } from "../identity/access.ts";
import type { Principal } from "../identity/principal.ts";
import type { WorkspaceAccess } from "../workspace/workspace-access.ts";
import { findEveryoneGroup, listGrantsOfWorkspace, listGroupMembersOfWorkspace } from "./access.repository.ts";


/**
 * One secret's grants: the usual single grant as a [subject id, level] pair,
 * several as a map by subject id (user, group or service account). A map of
 * one costs ~120 bytes more than the pair; with a workspace's grants held
 * per secret that is most of what 100,000 grants weigh (docs/decisions.md).
 */
export type SecretGrants = readonly [subjectId: string, level: Level] | Map<string, Level>;

export interface WorkspaceAcl {
  /** secret id → its grants */
  grants: Map<string, SecretGrants>;
  /** member id → the groups it belongs to, `everyone` excluded (everyone holds every member) */
  groupsOf: Map<string, string[]>;
  everyoneId: string | null;
  /** What it counts for in the cache's capacity (GRANTS_PER_WORKSPACE). */
  weight: number;
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
/**
 * A workspace counts once per started 100 granted secrets and group members
 * (~14 KiB at the ~147 bytes each measured): the default holds 1,000 small workspaces or
 * 100,000 grants (~14 MiB), where counting workspaces alone let 1,000
 * workspaces of 10,000 grants each take over 1 GiB.
 */
const GRANTS_PER_WORKSPACE = 100;

export class AccessService {
  #store: Store;
  #capacity: number;
  #acls = new Map<string, Promise<WorkspaceAcl>>();
  /** The loaded ones, for the read path to use without waiting on a promise. */
  #loaded = new Map<string, WorkspaceAcl>();
  /** The weight of the loaded ones. */
  #weight = 0;

  constructor(store: Store, cachedWorkspaces: number) {
    this.#store = store;
    this.#capacity = cachedWorkspaces;
    store.changes.subscribe((change) => {
      if (change.kind === "access") {
        this.#drop(change.workspaceId);
      } else if (change.kind === "all") {
        this.#acls.clear();
        this.#loaded.clear();
        this.#weight = 0;
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
      // A load still under way for a dropped workspace no longer finds itself in #acls, so it is not kept.
      if (this.#acls.size >= this.#capacity) this.#drop(this.#acls.keys().next().value!);
      const loading = this.#load(workspaceId);
      acl = loading;
      this.#acls.set(workspaceId, loading);
      loading.then(
        // Only if no change dropped it while it loaded.
        (value) => {
          if (this.#acls.get(workspaceId) !== loading) return;
          this.#loaded.set(workspaceId, value);
          this.#weight += value.weight;
          // The oldest out until the rest fits; one heavier than the whole cache is held alone.
          for (const oldest of this.#acls.keys()) {
            if (this.#weight <= this.#capacity) break;
            if (oldest !== workspaceId) this.#drop(oldest);
          }
        },
        // A failed load must not stay cached.
        () => this.#acls.get(workspaceId) === loading && this.#acls.delete(workspaceId),
      );
    }
    return acl;
  }

  #drop(workspaceId: string): void {
    this.#acls.delete(workspaceId);
    const loaded = this.#loaded.get(workspaceId);
    if (loaded === undefined) return;
    this.#loaded.delete(workspaceId);
    this.#weight -= loaded.weight;
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
    // Each row brings its own copy of a subject's id and of a level; the few
    // members and groups of a workspace hold many grants, so one copy of each is kept.
    const ids = new Map<string, string>();
    const shared = (id: string) => ids.get(id) ?? (ids.set(id, id), id);
    const grants = new Map<string, SecretGrants>();
    for (const row of grantRows) {
      const subjectId = shared(row.subjectId);
      const level = levelOf(row.level);
      const held = grants.get(row.secretId);
      if (held === undefined) grants.set(row.secretId, [subjectId, level]);
      else if (held instanceof Map) held.set(subjectId, level);
      else grants.set(row.secretId, new Map([held, [subjectId, level]]));
    }
    const groupsOf = new Map<string, string[]>();
    for (const row of memberRows) {
      const groupId = shared(row.groupId);
      const groups = groupsOf.get(row.memberId);
      if (groups) groups.push(groupId);
      else groupsOf.set(shared(row.memberId), [groupId]);
    }
    return { grants, groupsOf, everyoneId: everyone?.id ?? null, weight: Math.max(1, Math.ceil((grants.size + groupsOf.size) / GRANTS_PER_WORKSPACE)) };
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

function grantedTo(grants: SecretGrants, subjectId: string, acl: WorkspaceAcl): Level {
  let level = grantOf(grants, subjectId);
  if (acl.everyoneId) level = highest(level, grantOf(grants, acl.everyoneId));
  for (const group of acl.groupsOf.get(subjectId) ?? []) level = highest(level, grantOf(grants, group));
  return level;
}

function grantOf(grants: SecretGrants, subjectId: string): Level {
  if (grants instanceof Map) return grants.get(subjectId) ?? "none";
  return grants[0] === subjectId ? grants[1] : "none";
}

/** The stored level as the one string of LEVELS' keys, so a loaded workspace holds no copy per grant. */
function levelOf(stored: string): Level {
  for (const level in LEVELS) if (level === stored) return level as Level;
  return stored as Level;
}

function highest(a: Level, b: Level): Level {
  return LEVELS[a] >= LEVELS[b] ? a : b;
}

function lowest(a: Level, b: Level): Level {
  return LEVELS[a] <= LEVELS[b] ? a : b;
}

