import type { Database } from "../store/store.ts";

export function listGrantsOfWorkspace(db: Database, workspaceId: string) {
  return db.selectFrom("grants").select(["secretId", "subjectId", "level"]).where("workspaceId", "=", workspaceId).execute();
}

export function listGroupMembersOfWorkspace(db: Database, workspaceId: string) {
  return db
    .selectFrom("groupMembers")
    .innerJoin("groups", "groups.id", "groupMembers.groupId")
    .select(["groupMembers.groupId", "groupMembers.memberId"])
    .where("groups.workspaceId", "=", workspaceId)
    .execute();
}

export function findEveryoneGroup(db: Database, workspaceId: string) {
  return db.selectFrom("groups").select("id").where("workspaceId", "=", workspaceId).where("builtin", "=", 1).executeTakeFirst();
}

export function listGrantsOfSecret(db: Database, secretId: string) {
  return db.selectFrom("grants").selectAll().where("secretId", "=", secretId).orderBy("subjectId").execute();
}

export async function upsertGrant(db: Database, row: { secretId: string; workspaceId: string; subjectId: string; level: string; createdAt: number; createdBy: string }) {
  await db.deleteFrom("grants").where("secretId", "=", row.secretId).where("subjectId", "=", row.subjectId).execute();
  await db.insertInto("grants").values(row).execute();
}

export function deleteGrant(db: Database, secretId: string, subjectId: string) {
  return db.deleteFrom("grants").where("secretId", "=", secretId).where("subjectId", "=", subjectId).executeTakeFirst();
}

/** Resolves `user:NAME`, `group:NAME`, `sa:NAME` or a bare id to a subject of the workspace. */
export async function findSubject(db: Database, workspaceId: string, ref: string): Promise<{ id: string; label: string } | undefined> {
  const [kind, name] = ref.includes(":") ? (ref.split(/:(.*)/s, 2) as [string, string]) : [ref.slice(0, ref.indexOf("_")), ref];
  if (kind === "user" || kind === "usr") {
    const user = await db
      .selectFrom("users")
      .innerJoin("memberships", "memberships.userId", "users.id")
      .select(["users.id", "users.username"])
      .where("memberships.workspaceId", "=", workspaceId)
      .where((eb) => eb.or([eb("users.id", "=", name), eb("users.username", "=", name)]))
      .executeTakeFirst();
    return user && { id: user.id, label: `user:${user.username}` };
  }
  if (kind === "group" || kind === "grp") {
    const group = await db
      .selectFrom("groups")
      .select(["id", "name"])
      .where("workspaceId", "=", workspaceId)
      .where((eb) => eb.or([eb("id", "=", name), eb("name", "=", name)]))
      .executeTakeFirst();
    return group && { id: group.id, label: `group:${group.name}` };
  }
  if (kind === "sa") {
    const account = await db
      .selectFrom("serviceAccounts")
      .select(["id", "name"])
      .where("workspaceId", "=", workspaceId)
      .where("disabledAt", "is", null)
      .where((eb) => eb.or([eb("id", "=", name), eb("name", "=", name)]))
      .executeTakeFirst();
    return account && { id: account.id, label: `sa:${account.name}` };
  }
  return undefined;
}

/** Display labels (`user:alice`, `group:devs`, `sa:ci`) of subject ids. */
export async function labelSubjects(db: Database, ids: string[]): Promise<Map<string, string>> {
  const labels = new Map<string, string>();
  if (ids.length === 0) return labels;
  const [users, groups, accounts] = await Promise.all([
    db.selectFrom("users").select(["id", "username"]).where("id", "in", ids).execute(),
    db.selectFrom("groups").select(["id", "name"]).where("id", "in", ids).execute(),
    db.selectFrom("serviceAccounts").select(["id", "name"]).where("id", "in", ids).execute(),
  ]);
  for (const user of users) labels.set(user.id, `user:${user.username}`);
  for (const group of groups) labels.set(group.id, `group:${group.name}`);
  for (const account of accounts) labels.set(account.id, `sa:${account.name}`);
  return labels;
}

/** Removes a group with the grants it held. */
export async function deleteGroup(db: Database, groupId: string) {
  await db.deleteFrom("grants").where("subjectId", "=", groupId).execute();
  await db.deleteFrom("groups").where("id", "=", groupId).execute();
}

export async function addGroupMember(db: Database, groupId: string, memberId: string, createdAt: number) {
  await removeGroupMember(db, groupId, memberId);
  await db.insertInto("groupMembers").values({ groupId, memberId, createdAt }).execute();
}

export function removeGroupMember(db: Database, groupId: string, memberId: string) {
  return db.deleteFrom("groupMembers").where("groupId", "=", groupId).where("memberId", "=", memberId).executeTakeFirst();
}

export function listGroups(db: Database, workspaceId: string) {
  return db.selectFrom("groups").selectAll().where("workspaceId", "=", workspaceId).orderBy("name").execute();
}

export function findGroup(db: Database, workspaceId: string, ref: string) {
  return db
    .selectFrom("groups")
    .selectAll()
    .where("workspaceId", "=", workspaceId)
    .where((eb) => eb.or([eb("id", "=", ref), eb("name", "=", ref)]))
    .executeTakeFirst();
}

export function listGroupMembers(db: Database, groupId: string) {
  return db.selectFrom("groupMembers").select("memberId").where("groupId", "=", groupId).orderBy("memberId").execute();
}
