import { sql, type QueryCreator } from "kysely";
import type { Sealed } from "../crypto/keyring.ts";
import { effectiveInterval, effectiveIntervalOfRow, isDueSql, secretsWithSchedule } from "../rotation/rotation.repository.ts";
import { execute, prepared } from "../store/prepared.ts";
import type { Database, NamedStatement, Store } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";

export type SecretRow = Tables["secrets"];
export type VersionRow = Tables["secretVersions"];

/** Where a secret's name is unique: one shared namespace per workspace, one personal namespace per user. */
export interface SecretNamespace {
  workspaceId: string;
  scope: string;
  ownerId: string;
}

const byName = prepared((db: Database, p: SecretNamespace & { name: string }) =>
  db.selectFrom("secrets").selectAll().where("workspaceId", "=", p.workspaceId).where("scope", "=", p.scope).where("ownerId", "=", p.ownerId).where("name", "=", p.name),
);

export async function findByName(db: Database, ns: SecretNamespace, name: string): Promise<SecretRow | undefined> {
  return (await execute(db, byName(db, { workspaceId: ns.workspaceId, scope: ns.scope, ownerId: ns.ownerId, name }))).rows[0];
}

const byId = prepared((db: Database, p: { workspaceId: string; id: string }) => db.selectFrom("secrets").selectAll().where("workspaceId", "=", p.workspaceId).where("id", "=", p.id));

export async function findById(db: Database, workspaceId: string, id: string): Promise<SecretRow | undefined> {
  return (await execute(db, byId(db, { workspaceId, id }))).rows[0];
}

/** What tells whether a cached secret row is still the stored one, for several secrets in one query. */
export function findStamps(db: Database, ids: string[]) {
  return db.selectFrom("secrets").select(["id", "currentVersion", "updatedAt", "deletedAt"]).where("id", "in", ids).execute();
}

const versionOf = prepared((db: Database, p: { secretId: string; version: number }) => db.selectFrom("secretVersions").selectAll().where("secretId", "=", p.secretId).where("version", "=", p.version));

export async function findVersion(db: Database, secretId: string, version: number): Promise<VersionRow | undefined> {
  return (await execute(db, versionOf(db, { secretId, version }))).rows[0];
}

export function listVersions(db: Database, secretId: string) {
  return db
    .selectFrom("secretVersions")
    .select(["version", "keys", "createdAt", "createdBy", "deletedAt", "destroyedAt"])
    .where("secretId", "=", secretId)
    .orderBy("version", "desc")
    .execute();
}

export function listPersonalOf(db: Database, workspaceId: string, ownerId: string) {
  return db.selectFrom("secrets").selectAll().where("workspaceId", "=", workspaceId).where("scope", "=", "personal").where("ownerId", "=", ownerId).execute();
}

export function insertSecret(db: Database, row: SecretRow) {
  return db.insertInto("secrets").values(row).execute();
}

type NewVersion = Omit<VersionRow, "ciphertext"> & { ciphertext: Sealed };

const newVersion = prepared((db: Database, p: NewVersion) =>
  db.insertInto("secretVersions").values({
    secretId: p.secretId,
    version: p.version,
    workspaceId: p.workspaceId,
    ciphertext: p.ciphertext,
    keyVersion: p.keyVersion,
    keys: p.keys,
    createdAt: p.createdAt,
    createdBy: p.createdBy,
    deletedAt: p.deletedAt,
    destroyedAt: p.destroyedAt,
  }),
);

export async function insertVersion(db: Database, row: NewVersion): Promise<void> {
  await execute(db, newVersion(db, row));
}

/** What moving a secret to its next version changes. */
export type VersionChange = { currentVersion: number; updatedAt: number; updatedBy: string; label: string; tags: string } & LifecycleSettings;

/**
 * The columns a new version is built from (besides the immutable id, name,
 * scope, owner and type): a write moves a secret only if they are still as
 * the writer read them, so a writer that started from an older copy of the
 * row (read before the transaction, or held since its last write) can
 * neither revert a metadata change (a label, an expiry, a warning sent)
 * nor skip a check-and-set the secret now requires. Compared by value, not
 * through updated_at, which a change in the same millisecond, or on a node
 * whose clock is behind, would leave as it was.
 */
export type VersionBase = Pick<SecretRow, "currentVersion" | "label" | "tags" | "rotationIntervalDays" | "autoRotate" | "expiresAt" | "expiryWarnedAt" | "casRequired" | "maxVersions" | "deleteVersionAfter">;

/** A VersionBase as advanceVersion's statement takes it: one named value per column. */
type Was = { [K in keyof VersionBase as `was${Capitalize<K>}`]: VersionBase[K] };

/** advanceVersion's update, for a live secret and for a deleted one it brings back. */
function advanceQuery(db: QueryCreator<Tables>, p: VersionChange & { id: string } & Was, fromDeleted: boolean) {
  return db
    .updateTable("secrets")
    .set({
      currentVersion: p.currentVersion,
      updatedAt: p.updatedAt,
      updatedBy: p.updatedBy,
      label: p.label,
      tags: p.tags,
      rotationIntervalDays: p.rotationIntervalDays,
      autoRotate: p.autoRotate,
      expiresAt: p.expiresAt,
      expiryWarnedAt: p.expiryWarnedAt,
      ...(fromDeleted ? { deletedAt: null, deletedBy: null } : {}),
    })
    .where("id", "=", p.id)
    .where("deletedAt", fromDeleted ? "is not" : "is", null)
    .where("currentVersion", "=", p.wasCurrentVersion)
    .where("label", "=", p.wasLabel)
    .where("tags", "=", p.wasTags)
    .where("autoRotate", "=", p.wasAutoRotate)
    .where("casRequired", "=", p.wasCasRequired)
    .where("deleteVersionAfter", "=", p.wasDeleteVersionAfter)
    // The nullable ones: `is not distinct from` is = with null equal to null (SQLite ≥ 3.39 and PostgreSQL).
    .where("rotationIntervalDays", "is not distinct from", p.wasRotationIntervalDays)
    .where("expiresAt", "is not distinct from", p.wasExpiresAt)
    .where("expiryWarnedAt", "is not distinct from", p.wasExpiryWarnedAt)
    .where("maxVersions", "is not distinct from", p.wasMaxVersions)
    .returning(effectiveIntervalOfRow.as("intervalDays"));
}

const advanceLive = prepared((db: Database, p: VersionChange & { id: string } & Was) => advanceQuery(db, p, false));
const advanceDeleted = prepared((db: Database, p: VersionChange & { id: string } & Was) => advanceQuery(db, p, true));

/** Every column of a version row, as the one-statement write inserts them. */
const VERSION_COLUMNS = ["secretId", "version", "workspaceId", "ciphertext", "keyVersion", "keys", "createdAt", "createdBy", "deletedAt", "destroyedAt"] as const satisfies readonly (keyof NewVersion)[];

/**
 * advanceVersion, insertVersion and pruneVersions in one statement, where
 * the store takes changes as common table expressions of one statement
 * (StoreDialect.changesInOneStatement): one round trip for a write's three.
 * The version is inserted and the old ones deleted only if the secret moved.
 */
function advanceWithVersionsStatement(fromDeleted: boolean) {
  return prepared((db: Database, p: VersionChange & { id: string } & Was & NewVersion & { keepFrom: number }) =>
    db
      .with("moved", (db) => advanceQuery(db, p, fromDeleted))
      .with("added", (db) =>
        db
          .insertInto("secretVersions")
          .columns(VERSION_COLUMNS)
          .expression((eb) => eb.selectFrom("moved").select(VERSION_COLUMNS.map((column) => eb.val(p[column]).as(column)))),
      )
      .with("pruned", (db) =>
        db
          .deleteFrom("secretVersions")
          .where("secretId", "=", p.id)
          .where("version", "<", p.keepFrom)
          .where((eb) => eb.exists(eb.selectFrom("moved").select("intervalDays"))),
      )
      .selectFrom("moved")
      .select("intervalDays"),
  );
}
const advanceLiveWithVersions = advanceWithVersionsStatement(false);
const advanceDeletedWithVersions = advanceWithVersionsStatement(true);

/**
 * Moves a secret to its next version only if it is still as `from` says
 * (VersionBase; a deleted secret: brings it back): of two concurrent
 * writers, exactly one succeeds on either database. The rotation interval
 * that then applies to it (its own, else its label's default), or
 * undefined when it did not move.
 */
export async function advanceVersion(db: Database, id: string, from: VersionBase, change: VersionChange, fromDeleted: boolean): Promise<{ intervalDays: number | null } | undefined> {
  const { rows } = await execute(db, (fromDeleted ? advanceDeleted : advanceLive)(db, { ...change, id, ...wasOf(from) }));
  return rows.length === 1 ? rows[0] : undefined;
}

function wasOf(from: VersionBase): Was {
  return {
    wasCurrentVersion: from.currentVersion,
    wasLabel: from.label,
    wasTags: from.tags,
    wasAutoRotate: from.autoRotate,
    wasCasRequired: from.casRequired,
    wasDeleteVersionAfter: from.deleteVersionAfter,
    wasRotationIntervalDays: from.rotationIntervalDays,
    wasExpiresAt: from.expiresAt,
    wasExpiryWarnedAt: from.expiryWarnedAt,
    wasMaxVersions: from.maxVersions,
  };
}

/**
 * advanceVersion, then (if the secret moved) insertVersion(`version`) and
 * pruneVersions(`keepFrom`), as one statement: only where the store's
 * dialect changesInOneStatement.
 */
export async function advanceWithVersions(db: Database, id: string, from: VersionBase, change: VersionChange, fromDeleted: boolean, version: NewVersion, keepFrom: number): Promise<{ intervalDays: number | null } | undefined> {
  const statement = fromDeleted ? advanceDeletedWithVersions : advanceLiveWithVersions;
  const { rows } = await execute(db, statement(db, { ...change, id, ...wasOf(from), ...version, keepFrom }));
  return rows.length === 1 ? rows[0] : undefined;
}

/** A secret's own rotation settings, as stored. */
/** What a write may change besides the value, label and tags: the schedule and the expiry (whose warning is then due again). */
export type LifecycleSettings = Pick<SecretRow, "rotationIntervalDays" | "autoRotate" | "expiresAt" | "expiryWarnedAt">;

export function updateMetadata(db: Database, id: string, change: { label: string; tags: string; updatedAt: number; updatedBy: string } & LifecycleSettings) {
  return db.updateTable("secrets").set(change).where("id", "=", id).execute();
}

export function updateSettings(
  db: Database,
  id: string,
  change: Pick<SecretRow, "casRequired" | "maxVersions" | "deleteVersionAfter" | "customMetadata" | "relayPolicy" | "expiresAt" | "expiryWarnedAt" | "approval" | "updatedAt" | "updatedBy">,
) {
  return db.updateTable("secrets").set(change).where("id", "=", id).execute();
}

/** Soft-deletes (a time) or undeletes (null) some versions; destroyed versions stay destroyed. */
export function setVersionsDeleted(db: Database, secretId: string, versions: number[], deletedAt: number | null) {
  return db
    .updateTable("secretVersions")
    .set({ deletedAt })
    .where("secretId", "=", secretId)
    .where("version", "in", versions)
    .where("destroyedAt", "is", null)
    .execute();
}

/** Wipes some versions' ciphertext for good; their metadata stays, as Vault keeps it. */
export function destroyVersions(db: Database, secretId: string, versions: number[], now: number) {
  return db
    .updateTable("secretVersions")
    .set({ destroyedAt: now, ciphertext: new Uint8Array(0) })
    .where("secretId", "=", secretId)
    .where("version", "in", versions)
    .where("destroyedAt", "is", null)
    .execute();
}

const prune = prepared((db: Database, p: { secretId: string; keepFrom: number }) => db.deleteFrom("secretVersions").where("secretId", "=", p.secretId).where("version", "<", p.keepFrom));

export async function pruneVersions(db: Database, secretId: string, keepFrom: number): Promise<void> {
  await execute(db, prune(db, { secretId, keepFrom }));
}

export function setDeleted(db: Database, id: string, deletedAt: number | null, deletedBy: string | null) {
  return db.updateTable("secrets").set({ deletedAt, deletedBy }).where("id", "=", id).execute();
}

export async function destroySecret(db: Database, id: string) {
  await db.deleteFrom("secretVersions").where("secretId", "=", id).execute();
  await db.deleteFrom("secrets").where("id", "=", id).execute();
}

export interface ListFilter {
  /** Names under this folder (ending in '/'), or every name when ''. */
  prefix: string;
  /** Case-insensitive substring of the name. */
  search: string | undefined;
  deleted: "exclude" | "include" | "only";
  /** Only these secrets (what a member was granted); undefined: no restriction. */
  ids?: string[] | undefined;
  /** Keyset paging: names strictly after this one. */
  after: string | undefined;
  limit: number;
  /** Only secrets due or overdue for rotation at this time. */
  dueAt?: number | undefined;
}

/** What a list shows of a secret: its row, its current version's key names and time, and the interval that applies to it. */
function summaryRows(db: Database, ns: SecretNamespace) {
  return secretsWithSchedule(db)
    .select([
      "secrets.id",
      "secrets.name",
      "secrets.scope",
      "secrets.ownerId",
      "secrets.type",
      "secrets.label",
      "secrets.tags",
      "secrets.currentVersion",
      "secrets.createdAt",
      "secrets.deletedAt",
      "secrets.autoRotate",
      "secrets.expiresAt",
      "secretVersions.keys",
      "secretVersions.createdAt as versionCreatedAt",
      effectiveInterval.as("intervalDays"),
    ])
    .where("secrets.workspaceId", "=", ns.workspaceId)
    .where("secrets.scope", "=", ns.scope)
    .where("secrets.ownerId", "=", ns.ownerId);
}

export type SummaryRow = Awaited<ReturnType<typeof listSecrets>>[number];

export function listSecrets(db: Database, ns: SecretNamespace, filter: ListFilter) {
  let query = summaryRows(db, ns).orderBy("secrets.name").limit(filter.limit);
  if (filter.prefix) query = query.where("secrets.name", ">=", filter.prefix).where("secrets.name", "<", folderEnd(filter.prefix));
  if (filter.search) query = query.where(sql<boolean>`lower(secrets.name) like ${likeContains(filter.search.toLowerCase())} escape '\\'`);
  if (filter.ids !== undefined) query = query.where("secrets.id", "in", filter.ids);
  if (filter.after !== undefined) query = query.where("secrets.name", ">", filter.after);
  if (filter.deleted === "exclude") query = query.where("secrets.deletedAt", "is", null);
  if (filter.deleted === "only") query = query.where("secrets.deletedAt", "is not", null);
  if (filter.dueAt !== undefined) query = query.where(isDueSql(filter.dueAt));
  return query.execute();
}

/** The columns of a page of a list on a store several nodes share (listPage), in their order. */
export const PAGE_COLUMNS = [
  "id", "name", "type", "label", "tags", "currentVersion", "createdAt", "deletedAt", "autoRotate", "expiresAt", "keys", "versionCreatedAt", "intervalDays",
] as const satisfies readonly (keyof SummaryRow)[];

/** A row of listPage: a SummaryRow's values in PAGE_COLUMNS order, its namespace's columns left out. */
export type PageRow = { [I in keyof typeof PAGE_COLUMNS]: (typeof PAGE_COLUMNS)[I] extends keyof SummaryRow ? SummaryRow[(typeof PAGE_COLUMNS)[I]] : never };

/** After every character a secret name may hold (secretNameProblem: ASCII only): the end of the range of a list of every name. */
const AFTER_EVERY_NAME = "\u007f";

/**
 * listSecrets' query for a store several nodes share, where every list goes
 * to the store (secret-summaries.ts says why), as one named statement whose
 * plan does not depend on its values: PostgreSQL parses and plans it once per
 * connection instead of once per page, its rows come as arrays (no object and
 * no renaming per row), and Kysely builds nothing. Every filter is a value: a
 * name range always (the folder, the cursor; a range of the name index, in
 * order, which the LIMIT stops early), the deleted mode and a LIKE pattern
 * ('%' when there is no search). The interval is effectiveInterval's.
 *
 * Each value is read through `(select $n)`, which the planner cannot look
 * into: a custom plan, made for the values at hand, then costs what the
 * generic plan does, and after its first five custom plans PostgreSQL keeps
 * the generic one. Seen as constants, the values made each custom plan look
 * cheaper than the generic plan, and every page was planned again.
 */
const LIST_PAGE: NamedStatement = {
  name: "coffer_list_page",
  rowMode: "array",
  text: `
select secrets.id, secrets.name, secrets.type, secrets.label, secrets.tags, secrets.current_version, secrets.created_at, secrets.deleted_at,
  secrets.auto_rotate, secrets.expires_at, secret_versions.keys, secret_versions.created_at,
  coalesce(secrets.rotation_interval_days, rotation_defaults.interval_days)
from secrets
join secret_versions on secret_versions.secret_id = secrets.id and secret_versions.version = secrets.current_version
left join rotation_defaults on rotation_defaults.workspace_id = secrets.workspace_id and rotation_defaults.label = secrets.label
where secrets.workspace_id = (select $1) and secrets.scope = (select $2) and secrets.owner_id = (select $3)
  and secrets.name >= (select $4) and secrets.name < (select $5) and secrets.name > (select $6)
  and case (select $7::text) when 'exclude' then secrets.deleted_at is null when 'only' then secrets.deleted_at is not null else true end
  and lower(secrets.name) like (select $8) escape '\\'
order by secrets.name
limit (select $9::bigint)`,
};

/** What listPage filters by: a ListFilter without `ids` or `dueAt`, whose queries it cannot plan once for all values. */
export type PageFilter = Omit<ListFilter, "ids" | "dueAt">;

/** listSecrets on a store several nodes share, for a filter without granted ids or a due time. */
export function listPage(store: Store, ns: SecretNamespace, filter: PageFilter): Promise<PageRow[]> {
  const { prefix } = filter;
  return store.runNamed<PageRow>(LIST_PAGE, [
    ns.workspaceId, ns.scope, ns.ownerId,
    prefix, prefix ? folderEnd(prefix) : AFTER_EVERY_NAME, filter.after ?? "",
    filter.deleted, filter.search ? likeContains(filter.search.toLowerCase()) : "%", filter.limit,
  ]);
}

/** Every secret of a namespace, deleted ones too, or only the ones of `ids`: what the list cache loads. */
export function listAllSummaries(db: Database, ns: SecretNamespace, ids?: string[]): Promise<SummaryRow[]> {
  const query = summaryRows(db, ns);
  return (ids === undefined ? query : query.where("secrets.id", "in", ids)).execute();
}

/**
 * The first name after every name in `folder` (which ends in '/'), bytewise as
 * both stores compare names: `name >= folder and name < folderEnd(folder)` is
 * a range of the name index, where a `substr` comparison reads every name.
 */
export function folderEnd(folder: string): string {
  return folder.slice(0, -1) + String.fromCharCode(folder.charCodeAt(folder.length - 1) + 1);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => "\\" + c);
}

function likeContains(text: string): string {
  return "%" + escapeLike(text) + "%";
}

/**
 * The ids and names of a namespace's live secrets under a folder (every one
 * when ''), in the namespace's name index: what folder counts fold. No
 * payload, no keys, no schedule.
 */
export function listNamesUnder(db: Database, ns: SecretNamespace, prefix: string, ids: string[] | undefined) {
  let query = db
    .selectFrom("secrets")
    .select(["id", "name"])
    .where("workspaceId", "=", ns.workspaceId)
    .where("scope", "=", ns.scope)
    .where("ownerId", "=", ns.ownerId)
    .where("deletedAt", "is", null);
  if (prefix) query = query.where("name", ">=", prefix).where("name", "<", folderEnd(prefix));
  if (ids !== undefined) query = query.where("id", "in", ids);
  return query.execute();
}

/** Stamps secrets as read or used at `time`, unless another node recorded a later use (the usage recorder's batched write; no cache holds this column). */
export function markUsed(db: Database, ids: string[], time: number) {
  return db
    .updateTable("secrets")
    .set({ lastUsedAt: time })
    .where("id", "in", ids)
    .where((eb) => eb.or([eb("lastUsedAt", "is", null), eb("lastUsedAt", "<", time)]))
    .execute();
}
