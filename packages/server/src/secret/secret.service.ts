/**
 * Secrets: create, read, update, version, delete. Every method takes the
 * caller and the workspace it resolved, and checks access itself, so no
 * route can forget to.
 *
 * The hot path is a read of a secret's current version by name. Its row and
 * decrypted data are cached per node, keyed by name and by id; every write
 * drops the entries on this node at commit and on the others through the
 * change feed. Process memory already holds the keyring, so holding decrypted
 * payloads there adds no new place for a value to leak from.
 */
import { LIMITS, type SecretData, type SecretMetadata, type SecretScope, type SecretSettings, type SecretSummary, type SecretType, type SecretVersionInfo } from "@coffer/protocol";
import type { Sealed } from "../crypto/keyring.ts";
import { Cache } from "../core/cache.ts";
import { DAY_MS, type Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { newId } from "../crypto/generate.ts";
import type { AccessService, WorkspaceAcl } from "../access/access.service.ts";
import { atLeast, denied, LEVELS, sharedLevelOfRole, type Level } from "../identity/access.ts";
import { requireWorkspaceAdmin } from "../identity/guards.ts";
import type { Principal } from "../identity/principal.ts";
import type { KeyService } from "../keys/keys.service.ts";
import { findDefaultInterval, oldestVersionSince } from "../rotation/rotation.repository.ts";
import {
  checkAutoRotate,
  checkInterval,
  DEFAULT_GRACE_DAYS,
  planOf,
  ROTATION_ACTOR,
  SELF_ROTATING_TYPES,
  statusAt,
  viewOf,
  type RotationPlan,
} from "../rotation/rotation.rules.ts";
import type { Change } from "../store/changes.ts";
import type { Store } from "../store/store.ts";
import { findRole, findWorkspace } from "../workspace/workspace.repository.ts";
import { checkDeleteAfter, checkMaxVersions, MAX_VERSIONS_LIMIT, type WorkspaceAccess, type WorkspaceService } from "../workspace/workspace.service.ts";
import {
  advanceVersion,
  destroySecret,
  destroyVersions,
  findById,
  findByName,
  findVersion,
  insertSecret,
  insertVersion,
  listPersonalOf,
  listSecrets,
  listVersions,
  pruneVersions,
  setDeleted,
  setVersionsDeleted,
  updateMetadata,
  updateSettings,
  type RotationSettings,
  type SecretNamespace,
  type SecretRow,
  type VersionRow,
} from "./secret.repository.ts";
import { checkLabel, checkName, checkTags, checkType, dataFields, dataForType, decodeData, encodeData, mergeData, type SecretValue, type SecretValues } from "./secret.rules.ts";

const SECRET_ID = /^sec_[0-9a-hjkmnp-tv-z]{26}$/;
const WRITE_ATTEMPTS = 8;
const MAX_BATCH = 100;

/** The caller, the workspace with its grants, and which namespace names refer to. */
export interface SecretContext {
  principal: Principal;
  access: WorkspaceAccess;
  acl: WorkspaceAcl;
  scope: SecretScope;
}

export interface SecretWithData extends SecretSummary {
  /** The values as text (the native API's view). */
  data: SecretData;
  /** The values with their JSON types, when some value is not a string (written through the Vault API). */
  values?: SecretValues;
}

/** A secret's current version as the read path serves it: everything but the age is computed once. */
interface CurrentSecret {
  row: SecretRow;
  versionCreatedAt: number;
  summary: Readonly<Omit<SecretSummary, "ageDays" | "rotation">>;
  data: Pick<SecretWithData, "data" | "values">;
  /** Its rotation schedule, when an interval applies; the status is the clock's. */
  plan: RotationPlan | undefined;
  /** From this time on the version counts as deleted: its deletion time (past or scheduled), -Infinity when destroyed, Infinity when never. */
  goneFrom: number;
  customMetadata: Readonly<Record<string, string>>;
  /** The last answer given, reused while the age stays the same: one object per secret version and day. */
  view?: Readonly<SecretWithData>;
}

export interface SecretRead {
  secret: Readonly<SecretWithData>;
  customMetadata: Readonly<Record<string, string>>;
  /** When this version is to be deleted (deleteVersionAfter); null: not scheduled. */
  deletesAt: number | null;
}

export interface CreateInput {
  name: string;
  type?: string | undefined;
  label?: string | undefined;
  tags?: string[] | undefined;
  data?: SecretValues | undefined;
  rotationIntervalDays?: number | null | undefined;
  autoRotate?: boolean | undefined;
}

export interface UpdateInput {
  label?: string | undefined;
  tags?: string[] | undefined;
  /** Days between rotations; null clears the secret's own interval (the label's default applies again). */
  rotationIntervalDays?: number | null | undefined;
  autoRotate?: boolean | undefined;
  /** Check-and-set: the version the caller last saw. */
  cas?: number | undefined;
}

export interface SettingsInput {
  casRequired?: boolean | undefined;
  /** null: back to the workspace's. */
  maxVersions?: number | null | undefined;
  deleteVersionAfter?: number | undefined;
  /** Replaces the custom metadata as a whole. */
  customMetadata?: Record<string, string> | undefined;
}

export interface ListQuery {
  prefix?: string | undefined;
  recursive?: boolean | undefined;
  search?: string | undefined;
  deleted?: "exclude" | "include" | "only" | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
  /** "due": only secrets due or overdue for rotation. */
  rotation?: "due" | undefined;
}

export interface ListResult {
  items: SecretSummary[];
  folders: string[];
  nextCursor: string | null;
}

export class SecretService {
  #store: Store;
  #keys: KeyService;
  #clock: Clock;
  #workspaces: WorkspaceService;
  #access: AccessService;
  #current = new Cache<string, CurrentSecret>(50_000);
  #graceMs: number;

  constructor(store: Store, keys: KeyService, clock: Clock, workspaces: WorkspaceService, access: AccessService, graceDays = DEFAULT_GRACE_DAYS) {
    this.#store = store;
    this.#keys = keys;
    this.#clock = clock;
    this.#workspaces = workspaces;
    this.#access = access;
    this.#graceMs = graceDays * DAY_MS;
    store.changes.subscribe((change) => {
      if (change.kind === "secret") {
        this.#current.delete(idKey(change.workspaceId, change.id), nameKey(change, change.name));
      } else if (change.kind === "all" || change.kind === "workspace") {
        // Workspace settings include the rotation defaults that cached schedules were computed from.
        this.#current.clear();
      }
    });
  }

  /** Resolves the caller's workspace and its grants once per request. */
  async context(principal: Principal, workspace: string, scope: SecretScope = "shared"): Promise<SecretContext> {
    const cached = this.#workspaces.cachedAccess(principal, workspace);
    const loaded = cached && this.#access.loadedAcl(cached.workspace.id);
    if (cached && loaded) return { principal, access: cached, acl: loaded, scope };
    const access = await this.#workspaces.access(principal, workspace);
    return { principal, access, acl: await this.#access.acl(access.workspace.id), scope };
  }

  async get(ctx: SecretContext, ref: string, version?: number): Promise<SecretWithData> {
    const current = await this.#readCurrent(ctx, ref);
    if (version === undefined || version === current.row.currentVersion) return this.#currentView(current);
    return (await this.#olderVersion(current, version)).secret;
  }

  /** get() with what Vault's KV v2 shows next to the data: the custom metadata and the version's scheduled deletion. */
  async read(ctx: SecretContext, ref: string, version?: number): Promise<SecretRead> {
    const current = await this.#readCurrent(ctx, ref);
    if (version === undefined || version === current.row.currentVersion) {
      return { secret: this.#currentView(current), customMetadata: current.customMetadata, deletesAt: Number.isFinite(current.goneFrom) ? current.goneFrom : null };
    }
    return this.#olderVersion(current, version);
  }

  /** The current version's answer: one frozen object per version and day, never a deleted or destroyed version. */
  #currentView(current: CurrentSecret): Readonly<SecretWithData> {
    const now = this.#clock();
    if (now >= current.goneFrom) throw versionGone(current.row, current.row.currentVersion, current.goneFrom === -Infinity);
    const age = ageDays(current.versionCreatedAt, now);
    const status = current.plan && statusAt(current.plan, now);
    if (current.view?.ageDays !== age || current.view.rotation?.status !== status) {
      current.view = Object.freeze({ ...current.summary, ageDays: age, ...(current.plan ? { rotation: viewOf(current.plan, now) } : {}), ...current.data });
    }
    return current.view;
  }

  async #olderVersion(current: CurrentSecret, version: number): Promise<SecretRead> {
    const stored = await this.#liveVersion(current.row, version);
    const data = dataFields(decodeData(await this.#open(current.row, version, stored.ciphertext)));
    // An old version has no schedule of its own: rotation describes the current value.
    const secret = { ...summarize({ ...current.row, currentVersion: version }, JSON.parse(stored.keys), stored.createdAt, this.#clock(), undefined), ...data };
    return { secret, customMetadata: current.customMetadata, deletesAt: stored.deletedAt };
  }

  /** Several secrets' current values in one call, all or nothing: the first missing one fails the whole read. */
  async getMany(ctx: SecretContext, refs: string[]): Promise<SecretWithData[]> {
    if (refs.length === 0 || refs.length > MAX_BATCH) throw invalid(`read 1 to ${MAX_BATCH} secrets at a time`);
    const out: SecretWithData[] = [];
    for (const ref of new Set(refs)) out.push(await this.get(ctx, ref));
    return out;
  }

  async list(ctx: SecretContext, query: ListQuery): Promise<ListResult> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid("limit must be an integer from 1 to 1000");
    const prefix = query.prefix ?? "";
    if (prefix && !prefix.endsWith("/")) throw invalid("prefix is a folder and ends with '/'");
    if (prefix) checkName(prefix.slice(0, -1));
    // Who sees every name of the namespace (admins, viewers, the owner of personal secrets), and who only what was granted.
    const seesAll = atLeast(this.#namespaceLevel(ctx), "see");
    const ids = seesAll ? undefined : this.#access.grantedSecretIds(ctx.principal, ctx.acl);
    if (ids?.length === 0) return { items: [], folders: [], nextCursor: null };
    const recursive = query.recursive ?? true;
    const ns = namespaceOf(ctx);
    const now = this.#clock();
    const items: SecretSummary[] = [];
    const folders = new Set<string>();
    let after = query.cursor;
    // A non-recursive page folds deeper names into folders, so filling it may take several fetches.
    for (;;) {
      const rows = await listSecrets(this.#store.db, ns, {
        prefix,
        search: query.search,
        deleted: query.deleted ?? "exclude",
        ids,
        after,
        limit: limit + 1,
        dueAt: query.rotation === "due" ? now : undefined,
      });
      for (const row of rows) {
        if (items.length === limit) return { items, folders: [...folders], nextCursor: after ?? null };
        after = row.name;
        if (!atLeast(this.#levelOn(ctx, { ...row, ownerId: namespaceOf(ctx).ownerId }), "see")) continue;
        const rest = row.name.slice(prefix.length);
        const slash = rest.indexOf("/");
        if (!recursive && slash >= 0) folders.add(prefix + rest.slice(0, slash + 1));
        else items.push(summarize(row, JSON.parse(row.keys), row.versionCreatedAt, now, planOf(row.intervalDays, row.versionCreatedAt)));
      }
      if (rows.length <= limit) return { items, folders: [...folders], nextCursor: null };
    }
  }

  async create(ctx: SecretContext, input: CreateInput): Promise<SecretWithData> {
    const name = checkName(input.name);
    const type = checkType(input.type);
    const label = checkLabel(input.label, name);
    const tags = checkTags(input.tags);
    const rotationIntervalDays = checkInterval(input.rotationIntervalDays) ?? null;
    checkAutoRotate(type, input.autoRotate);
    if (!atLeast(this.#namespaceLevel(ctx, name), "manage")) throw denied("only workspace owners and admins create shared secrets");
    const data = dataForType(type, input.data);
    const { plaintext, keys } = encodeData(data);
    const ns = namespaceOf(ctx);
    const now = this.#clock();
    const actor = ctx.principal.id;
    const row: SecretRow = {
      id: newId("sec"),
      ...ns,
      name,
      type,
      label,
      tags: JSON.stringify(tags),
      currentVersion: 1,
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      updatedBy: actor,
      deletedAt: null,
      deletedBy: null,
      rotationIntervalDays,
      autoRotate: input.autoRotate ? 1 : 0,
      casRequired: 0,
      maxVersions: null,
      deleteVersionAfter: 0,
      customMetadata: "{}",
    };
    const ciphertext = this.#keys.seal({ workspaceId: ns.workspaceId, secretId: row.id, version: 1 }, plaintext);
    plaintext.fill(0);
    const exists = () => new CofferError("SECRET_ALREADY_EXISTS", `a secret named '${name}' already exists`);
    try {
      await this.#store.db.transaction().execute(async (trx) => {
        if (await findByName(trx, ns, name)) throw exists();
        await insertSecret(trx, row);
        await insertVersion(trx, {
          secretId: row.id,
          version: 1,
          workspaceId: ns.workspaceId,
          ciphertext,
          keyVersion: this.#keys.keyVersion,
          keys: JSON.stringify(keys),
          createdAt: now,
          createdBy: actor,
          deletedAt: scheduledDeletion(row, ctx.access.workspace, now),
          destroyedAt: null,
        });
        await this.#store.changes.announce(trx, changeOf(row));
      });
    } catch (error) {
      // Two creators raced past the check: the unique index let one through.
      if (!(error instanceof CofferError) && (await findByName(this.#store.db, ns, name))) throw exists();
      throw error;
    }
    this.#store.changes.apply(changeOf(row));
    return { ...summarize(row, keys, now, now, await this.#planOf(row, now)), ...dataFields(data) };
  }

  /** Replaces every key/value pair; creates the secret when `upsert` and it does not exist. */
  async replace(ctx: SecretContext, ref: string, data: SecretValues, input: UpdateInput & { type?: string | undefined; upsert?: boolean }): Promise<{ secret: SecretWithData; created: boolean }> {
    // A secret the caller may not see is treated as absent, so the answer is create's, never a hint that it exists.
    const existing = input.upsert && !SECRET_ID.test(ref) ? await this.#findRow(ctx, ref) : undefined;
    if (input.upsert && !SECRET_ID.test(ref) && (!existing || !atLeast(this.#levelOn(ctx, existing), "see"))) {
      try {
        const { type, label, tags, rotationIntervalDays, autoRotate } = input;
        return { secret: await this.create(ctx, { name: ref, type, label, tags, rotationIntervalDays, autoRotate, data }), created: true };
      } catch (error) {
        if (!(error instanceof CofferError) || error.code !== "SECRET_ALREADY_EXISTS") throw error;
      }
    }
    if (input.type !== undefined) checkType(input.type);
    // Writing to a soft-deleted name brings the secret back with the new value, as a write after a delete does in Vault.
    const revive = input.upsert === true && existing?.deletedAt !== null && existing !== undefined;
    return { secret: await this.#write(ctx, ref, input, async () => data, input.type, revive), created: false };
  }

  /** Sets or (with null) removes some keys, keeping the others; label and tags alone make no new version. */
  async patch(ctx: SecretContext, ref: string, patch: Record<string, SecretValue> | undefined, input: UpdateInput): Promise<SecretWithData> {
    if (patch === undefined || Object.keys(patch).length === 0) return this.#updateMetadata(ctx, ref, input);
    return this.#write(ctx, ref, input, async (row) => {
      const current = await findVersion(this.#store.db, row.id, row.currentVersion);
      if (!current) throw new CofferError("VERSION_CONFLICT", "the secret changed during the update; try again");
      if (isGone(current, this.#clock())) throw versionGone(row, row.currentVersion, current.destroyedAt !== null);
      return mergeData(decodeData(await this.#open(row, row.currentVersion, current.ciphertext)), patch);
    });
  }

  /** Writes a new version equal to an old one. */
  async rollback(ctx: SecretContext, ref: string, version: number, cas?: number): Promise<SecretWithData> {
    return this.#write(ctx, ref, { cas }, async (row) => {
      const old = await this.#liveVersion(row, version);
      return decodeData(await this.#open(row, version, old.ciphertext));
    });
  }

  async versions(ctx: SecretContext, ref: string): Promise<SecretVersionInfo[]> {
    const row = await this.#authorizedRow(ctx, ref, "see", { allowDeleted: true });
    return this.#versionsOf(row);
  }

  /**
   * Everything about a secret but its value, and what the caller may do with
   * it: what the web UI shows (write-only there) and Vault's metadata read;
   * nothing is decrypted.
   */
  async metadata(ctx: SecretContext, ref: string): Promise<SecretMetadata> {
    const row = await this.#authorizedRow(ctx, ref, "see", { allowDeleted: true });
    const stored = await findVersion(this.#store.db, row.id, row.currentVersion);
    if (!stored) throw notFound(ref);
    const now = this.#clock();
    const summary = summarize(row, JSON.parse(stored.keys), stored.createdAt, now, await this.#planOf(row, now));
    return { ...metadataOf(row, await this.#versionsOf(row)), ...summary, access: this.#levelOn(ctx, row) };
  }

  async updateSettings(ctx: SecretContext, ref: string, input: SettingsInput): Promise<SecretMetadata> {
    const row = await this.#authorizedRow(ctx, ref, "write");
    const wanted = input.maxVersions === undefined ? row.maxVersions : input.maxVersions;
    // null: the workspace's.
    const maxVersions = wanted === null ? null : checkMaxVersions(wanted);
    const next = {
      casRequired: input.casRequired === undefined ? row.casRequired : input.casRequired ? 1 : 0,
      maxVersions,
      deleteVersionAfter: input.deleteVersionAfter === undefined ? row.deleteVersionAfter : checkDeleteAfter(input.deleteVersionAfter),
      customMetadata: input.customMetadata === undefined ? row.customMetadata : JSON.stringify(checkCustomMetadata(input.customMetadata)),
    };
    await this.#commit(row, (trx) => updateSettings(trx, row.id, { ...next, updatedAt: this.#clock(), updatedBy: ctx.principal.id }));
    return this.metadata(ctx, row.id);
  }

  /** Soft-deletes some versions (default: the current one); they can be undeleted. Versions that do not exist are ignored, as in Vault. */
  async deleteVersions(ctx: SecretContext, ref: string, versions?: number[]): Promise<SecretVersionInfo[]> {
    const row = await this.#authorizedRow(ctx, ref, "write");
    const chosen = checkVersions(versions ?? [row.currentVersion]);
    await this.#commit(row, (trx) => setVersionsDeleted(trx, row.id, chosen, this.#clock()));
    return this.#versionsOf(row);
  }

  async undeleteVersions(ctx: SecretContext, ref: string, versions: number[]): Promise<SecretVersionInfo[]> {
    const row = await this.#authorizedRow(ctx, ref, "write");
    const chosen = checkVersions(versions);
    await this.#commit(row, (trx) => setVersionsDeleted(trx, row.id, chosen, null));
    return this.#versionsOf(row);
  }

  /** Wipes some versions' values for good; their metadata stays. */
  async destroyVersions(ctx: SecretContext, ref: string, versions: number[]): Promise<SecretVersionInfo[]> {
    const row = await this.#authorizedRow(ctx, ref, "manage");
    const chosen = checkVersions(versions);
    await this.#commit(row, (trx) => destroyVersions(trx, row.id, chosen, this.#clock()));
    return this.#versionsOf(row);
  }

  async softDelete(ctx: SecretContext, ref: string): Promise<void> {
    const row = await this.#authorizedRow(ctx, ref, "write");
    await this.#commit(row, (trx) => setDeleted(trx, row.id, this.#clock(), ctx.principal.id));
  }

  async restore(ctx: SecretContext, ref: string): Promise<SecretSummary> {
    const row = await this.#authorizedRow(ctx, ref, "write", { allowDeleted: true });
    if (row.deletedAt === null) throw invalid(`secret '${row.name}' is not deleted`);
    await this.#commit(row, (trx) => setDeleted(trx, row.id, null, null));
    const { data: _, ...summary } = await this.get(ctx, row.id);
    return summary;
  }

  /** Removes the secret and every version for good. */
  async destroy(ctx: SecretContext, ref: string): Promise<void> {
    const row = await this.#authorizedRow(ctx, ref, "manage", { allowDeleted: true });
    await this.#commit(row, (trx) => destroySecret(trx, row.id), true);
  }

  /**
   * The rotation job's write, made by no caller: a new generated value for a
   * self-rotating secret still at `fromVersion`. The new version number, or
   * undefined when the secret changed, went away or stopped rotating itself.
   */
  async rotateGenerated(workspaceId: string, secretId: string, fromVersion: number): Promise<number | undefined> {
    const db = this.#store.db;
    const [row, workspace] = await Promise.all([findById(db, workspaceId, secretId), findWorkspace(db, workspaceId)]);
    if (!row || !workspace || row.deletedAt !== null || row.currentVersion !== fromVersion || row.autoRotate !== 1) return undefined;
    const { plaintext, keys } = encodeData(dataForType(row.type as SecretType, undefined));
    const version = fromVersion + 1;
    const ciphertext = this.#keys.seal({ workspaceId, secretId, version }, plaintext);
    plaintext.fill(0);
    const change = { currentVersion: version, updatedAt: this.#clock(), updatedBy: ROTATION_ACTOR, label: row.label, tags: row.tags, rotationIntervalDays: row.rotationIntervalDays, autoRotate: row.autoRotate };
    const now = change.updatedAt;
    return (await this.#advance(row, change, ciphertext, keys, row.maxVersions ?? workspace.maxVersions, scheduledDeletion(row, workspace, now))) ? version : undefined;
  }

  /**
   * Whether the caller sees every name of the namespace (or this one): then a missing secret is news to it.
   * Otherwise it sees only what it was granted, and a hidden secret looks exactly like a missing one.
   */
  seesEveryName(ctx: SecretContext, name?: string): boolean {
    return atLeast(this.#namespaceLevel(ctx, name), "see");
  }

  /** The secret if the caller holds `level` on it: for services that act on secrets (grants, HMAC use). */
  authorize(ctx: SecretContext, ref: string, level: Level, options: { allowDeleted?: boolean } = {}): Promise<SecretRow> {
    return this.#authorizedRow(ctx, ref, level, options);
  }

  /**
   * One version of a secret that `authorize` returned, opened but not decoded,
   * with when it was superseded (null for the current one): for services that
   * use a value on the caller's behalf without revealing it (HMAC signing).
   */
  async openVersion(row: SecretRow, version: number): Promise<{ payload: Buffer; supersededAt: number | null }> {
    const [stored, successor] = await Promise.all([
      findVersion(this.#store.db, row.id, version),
      version < row.currentVersion ? findVersion(this.#store.db, row.id, version + 1) : undefined,
    ]);
    if (!stored || (version < row.currentVersion && !successor)) throw new CofferError("VERSION_NOT_FOUND", `secret '${row.name}' has no version ${version}`);
    // A deleted or destroyed version signs nothing and verifies nothing: deleting a leaked key version retires it.
    if (isGone(stored, this.#clock())) throw versionGone(row, version, stored.destroyedAt !== null);
    return { payload: await this.#open(row, version, stored.ciphertext), supersededAt: successor?.createdAt ?? null };
  }

  /** A workspace admin removes a departed member's personal secrets, unread. */
  async destroyPersonalOf(ctx: SecretContext, userId: string): Promise<number> {
    requireWorkspaceAdmin(ctx.principal, ctx.access, "delete a member's personal secrets");
    const rows = await listPersonalOf(this.#store.db, ctx.access.workspace.id, userId);
    // Answering 0 for any username would let a workspace admin probe which users exist on the instance.
    if (rows.length === 0 && !(await findRole(this.#store.db, ctx.access.workspace.id, userId))) {
      throw new CofferError("NOT_FOUND", "no such member of this workspace");
    }
    for (const row of rows) await this.#commit(row, (trx) => destroySecret(trx, row.id), true);
    return rows.length;
  }

  async #readCurrent(ctx: SecretContext, ref: string): Promise<CurrentSecret> {
    const ns = namespaceOf(ctx);
    const key = SECRET_ID.test(ref) ? idKey(ns.workspaceId, ref) : nameKey(ns, ref);
    let current = this.#current.get(key);
    if (!current) {
      const epoch = this.#current.epoch;
      const row = await this.#authorizedRow(ctx, ref, "read");
      const stored = await findVersion(this.#store.db, row.id, row.currentVersion);
      if (!stored) throw new CofferError("SECRET_NOT_FOUND", `secret '${ref}' was not found`);
      // A deleted or destroyed current version is cached as such (older versions stay readable); its value is never opened.
      const goneFrom = stored.destroyedAt !== null ? -Infinity : (stored.deletedAt ?? Infinity);
      const open = goneFrom > this.#clock();
      const data = Object.freeze(dataFields(Object.freeze(open ? decodeData(await this.#open(row, row.currentVersion, stored.ciphertext)) : {})));
      const { ageDays: _, ...summary } = summarize(row, JSON.parse(stored.keys), stored.createdAt, 0, undefined);
      const plan = await this.#planOf(row, stored.createdAt);
      current = { row, versionCreatedAt: stored.createdAt, summary: Object.freeze(summary), data, plan, goneFrom, customMetadata: Object.freeze(JSON.parse(row.customMetadata)) };
      this.#current.set(idKey(row.workspaceId, row.id), current, epoch);
      this.#current.set(nameKey(row, row.name), current, epoch);
      return current;
    }
    this.#require(ctx, current.row, "read");
    return current;
  }

  /** A stored version the caller may read: not deleted, not destroyed. */
  async #liveVersion(row: SecretRow, version: number): Promise<VersionRow> {
    const stored = await findVersion(this.#store.db, row.id, version);
    if (!stored) throw new CofferError("VERSION_NOT_FOUND", `secret '${row.name}' has no version ${version}`);
    if (isGone(stored, this.#clock())) throw versionGone(row, version, stored.destroyedAt !== null);
    return stored;
  }

  async #versionsOf(row: SecretRow): Promise<SecretVersionInfo[]> {
    const rows = await listVersions(this.#store.db, row.id);
    return rows.map((version) => ({
      version: version.version,
      keys: JSON.parse(version.keys),
      createdAt: new Date(version.createdAt).toISOString(),
      createdBy: version.createdBy,
      current: version.version === row.currentVersion,
      deletedAt: version.deletedAt === null ? null : new Date(version.deletedAt).toISOString(),
      destroyed: version.destroyedAt !== null,
    }));
  }

  async #findRow(ctx: SecretContext, ref: string): Promise<SecretRow | undefined> {
    const ns = namespaceOf(ctx);
    const db = this.#store.db;
    if (SECRET_ID.test(ref)) {
      const row = await findById(db, ns.workspaceId, ref);
      if (row) return row;
    }
    return findByName(db, ns, ref);
  }

  /** The secret if the caller may act on it at `level`; SECRET_NOT_FOUND when it may not even see it. */
  async #authorizedRow(ctx: SecretContext, ref: string, level: Level, options: { allowDeleted?: boolean } = {}): Promise<SecretRow> {
    const row = await this.#findRow(ctx, ref);
    if (!row || (row.deletedAt !== null && !options.allowDeleted)) throw notFound(ref);
    this.#require(ctx, row, level);
    return row;
  }

  #levelOn(ctx: SecretContext, row: Pick<SecretRow, "id" | "name" | "scope" | "ownerId">): Level {
    return this.#access.levelOn(ctx.principal, ctx.access, ctx.acl, row);
  }

  /** The caller's level over the namespace it addresses (optionally for one name): its own personal secrets, or the workspace's shared ones. */
  #namespaceLevel(ctx: SecretContext, name?: string): Level {
    const { scope } = ctx.principal.scope;
    const cap = name === undefined ? scope.maxLevel : ctx.principal.scope.levelCap(name);
    const level = ctx.scope === "personal" ? "manage" : sharedLevelOfRole(ctx.access.role);
    return LEVELS[level] <= LEVELS[cap] ? level : cap;
  }

  #require(ctx: SecretContext, row: SecretRow, level: Level): void {
    const granted = this.#levelOn(ctx, row);
    if (!atLeast(granted, "see")) throw notFound(row.name);
    if (!atLeast(granted, level)) throw denied(`you may not ${level === "read" ? "read" : "change"} secret '${row.name}'`);
  }

  async #write(
    ctx: SecretContext,
    ref: string,
    input: UpdateInput,
    nextData: (row: SecretRow) => Promise<SecretValues>,
    type?: string,
    revive = false,
  ): Promise<SecretWithData> {
    for (let attempt = 1; ; attempt++) {
      const row = await this.#authorizedRow(ctx, ref, "write", { allowDeleted: revive });
      if (type !== undefined && type !== row.type) {
        throw new CofferError("INVALID_SECRET_TYPE", `secret '${row.name}' is ${row.type}; a secret's type cannot change, create a new secret instead`);
      }
      if (input.cas === undefined && (row.casRequired === 1 || ctx.access.workspace.casRequired === 1)) {
        throw invalid(`secret '${row.name}' requires check-and-set: send cas with the version you last read`);
      }
      if (input.cas !== undefined && input.cas !== row.currentVersion) throw conflict(row, input.cas);
      const data = await nextData(row);
      const { plaintext, keys } = encodeData(data);
      const version = row.currentVersion + 1;
      const now = this.#clock();
      const ciphertext = this.#keys.seal({ workspaceId: row.workspaceId, secretId: row.id, version }, plaintext);
      plaintext.fill(0);
      const label = input.label === undefined ? row.label : checkLabel(input.label, row.name);
      const tags = input.tags === undefined ? row.tags : JSON.stringify(checkTags(input.tags));
      const rotation = rotationSettings(row, input);
      const change = { currentVersion: version, updatedAt: now, updatedBy: ctx.principal.id, label, tags, ...rotation, ...(revive ? { deletedAt: null, deletedBy: null } : {}) };
      const maxVersions = row.maxVersions ?? ctx.access.workspace.maxVersions;
      const advanced = await this.#advance(row, change, ciphertext, keys, maxVersions, scheduledDeletion(row, ctx.access.workspace, now));
      if (advanced) {
        const written = { ...row, ...change, deletedAt: null };
        return { ...summarize(written, keys, now, now, await this.#planOf(written, now)), ...dataFields(data) };
      }
      // Another writer came first. With check-and-set that is the caller's conflict; without, retry on the new version.
      if (input.cas !== undefined) throw conflict(row, input.cas);
      if (attempt >= WRITE_ATTEMPTS) throw new CofferError("VERSION_CONFLICT", `secret '${row.name}' is being changed by others; try again`);
    }
  }

  async #updateMetadata(ctx: SecretContext, ref: string, input: UpdateInput): Promise<SecretWithData> {
    const row = await this.#authorizedRow(ctx, ref, "write");
    if (input.cas !== undefined && input.cas !== row.currentVersion) throw conflict(row, input.cas);
    const label = input.label === undefined ? row.label : checkLabel(input.label, row.name);
    const tags = input.tags === undefined ? row.tags : JSON.stringify(checkTags(input.tags));
    const rotation = rotationSettings(row, input);
    await this.#commit(row, (trx) => updateMetadata(trx, row.id, { label, tags, ...rotation, updatedAt: this.#clock(), updatedBy: ctx.principal.id }));
    return this.get(ctx, row.id);
  }

  /**
   * Moves `row` to a new version holding `ciphertext`, unless another writer
   * moved it first (false). Keeps the last `maxVersions`, and for the types
   * that rotate, every version superseded within the grace period too, so
   * consumers still switching can read it (and HMAC verify can check it).
   */
  async #advance(
    row: SecretRow,
    change: Parameters<typeof advanceVersion>[3],
    ciphertext: Sealed,
    keys: string[],
    maxVersions: number,
    deletedAt: number | null,
  ): Promise<boolean> {
    const version = change.currentVersion;
    return this.#commit(row, async (trx) => {
      if (!(await advanceVersion(trx, row.id, row.currentVersion, change, row.deletedAt !== null))) return false;
      await insertVersion(trx, {
        secretId: row.id,
        version,
        workspaceId: row.workspaceId,
        ciphertext,
        keyVersion: this.#keys.keyVersion,
        keys: JSON.stringify(keys),
        createdAt: change.updatedAt,
        createdBy: change.updatedBy,
        deletedAt,
        destroyedAt: null,
      });
      let keepFrom = version - maxVersions + 1;
      if (SELF_ROTATING_TYPES.includes(row.type as SecretType)) {
        const inGrace = await oldestVersionSince(trx, row.id, change.updatedAt - this.#graceMs);
        if (inGrace !== null) keepFrom = Math.min(keepFrom, inGrace - 1);
      }
      await pruneVersions(trx, row.id, keepFrom);
      return true;
    });
  }

  /** The secret's schedule: its own interval, else its label's workspace default. */
  async #planOf(row: Pick<SecretRow, "workspaceId" | "label" | "rotationIntervalDays">, rotatedAt: number): Promise<RotationPlan | undefined> {
    const days = row.rotationIntervalDays ?? (await findDefaultInterval(this.#store.db, row.workspaceId, row.label));
    return planOf(days, rotatedAt);
  }

  /**
   * Runs a write transaction that changes `row`, and drops it from every
   * node's cache on commit. `dropsGrants`: the write removes the secret's
   * grants (destroying it), so the workspace's access caches go too; other
   * writes leave them, and the read path's cached workspace, alone.
   */
  async #commit<T>(row: SecretRow, fn: (trx: Store["db"]) => Promise<T>, dropsGrants = false): Promise<T> {
    const changes: Change[] = [changeOf(row), ...(dropsGrants ? [{ kind: "access" as const, workspaceId: row.workspaceId }] : [])];
    const result = await this.#store.db.transaction().execute(async (trx) => {
      const value = await fn(trx);
      for (const change of changes) await this.#store.changes.announce(trx, change);
      return value;
    });
    for (const change of changes) this.#store.changes.apply(change);
    return result;
  }

  async #open(row: SecretRow, version: number, ciphertext: Uint8Array): Promise<Buffer> {
    try {
      return await this.#keys.open({ workspaceId: row.workspaceId, secretId: row.id, version }, ciphertext);
    } catch (error) {
      if ((error as Error).name === "IntegrityError") {
        throw new CofferError("INTEGRITY_ERROR", `the stored ciphertext of secret '${row.name}' version ${version} failed authentication`);
      }
      throw error;
    }
  }
}

function namespaceOf(ctx: SecretContext): SecretNamespace {
  return {
    workspaceId: ctx.access.workspace.id,
    scope: ctx.scope,
    ownerId: ctx.scope === "personal" ? ctx.principal.id : "",
  };
}

function summarize(
  row: Pick<SecretRow, "id" | "name" | "scope" | "type" | "label" | "tags" | "currentVersion" | "createdAt" | "updatedAt" | "deletedAt" | "autoRotate">,
  keys: string[],
  versionCreatedAt: number,
  now: number,
  plan: RotationPlan | undefined,
): SecretSummary {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope as SecretScope,
    type: row.type as SecretType,
    label: row.label,
    tags: JSON.parse(row.tags),
    keys,
    version: row.currentVersion,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(versionCreatedAt).toISOString(),
    ageDays: ageDays(versionCreatedAt, now),
    deletedAt: row.deletedAt === null ? null : new Date(row.deletedAt).toISOString(),
    autoRotate: row.autoRotate === 1,
    ...(plan ? { rotation: viewOf(plan, now) } : {}),
  };
}

/** The row's rotation settings after an update: given fields change, absent ones stay; autoRotate only for the types that can. */
function rotationSettings(row: SecretRow, input: UpdateInput): RotationSettings {
  const interval = checkInterval(input.rotationIntervalDays);
  checkAutoRotate(row.type, input.autoRotate);
  return {
    rotationIntervalDays: interval === undefined ? row.rotationIntervalDays : interval,
    autoRotate: input.autoRotate === undefined ? row.autoRotate : input.autoRotate ? 1 : 0,
  };
}

function metadataOf(row: SecretRow, versions: SecretVersionInfo[]): Omit<SecretMetadata, keyof SecretSummary | "access"> {
  return {
    ...settingsOf(row),
    currentVersion: row.currentVersion,
    oldestVersion: versions.at(-1)?.version ?? row.currentVersion,
    versions,
  };
}

function settingsOf(row: SecretRow): SecretSettings {
  return {
    casRequired: row.casRequired === 1,
    maxVersions: row.maxVersions,
    deleteVersionAfter: Number(row.deleteVersionAfter),
    customMetadata: JSON.parse(row.customMetadata),
  };
}

/** When a version written now is to be deleted: the shorter of the secret's and the workspace's delete-after, if any. */
function scheduledDeletion(row: SecretRow, workspace: { deleteVersionAfter: number }, now: number): number | null {
  const after = [Number(row.deleteVersionAfter), Number(workspace.deleteVersionAfter)].filter((seconds) => seconds > 0);
  return after.length === 0 ? null : now + Math.min(...after) * 1000;
}

function isGone(version: Pick<VersionRow, "deletedAt" | "destroyedAt">, now: number): boolean {
  return version.destroyedAt !== null || (version.deletedAt !== null && version.deletedAt <= now);
}

function versionGone(row: SecretRow, version: number, destroyed: boolean): CofferError {
  return new CofferError("VERSION_NOT_FOUND", `version ${version} of secret '${row.name}' is ${destroyed ? "destroyed" : "deleted"}`);
}

function checkVersions(versions: number[]): number[] {
  if (versions.length === 0 || versions.length > MAX_VERSIONS_LIMIT || !versions.every((v) => Number.isInteger(v) && v >= 1)) {
    throw invalid(`versions is a list of 1 to ${MAX_VERSIONS_LIMIT} version numbers`);
  }
  return [...new Set(versions)];
}

function checkCustomMetadata(metadata: Record<string, string>): Record<string, string> {
  const entries = Object.entries(metadata);
  if (entries.length > LIMITS.customMetadataKeys) throw invalid(`custom metadata has at most ${LIMITS.customMetadataKeys} keys`);
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > LIMITS.customMetadataKeyLength) throw invalid(`custom metadata keys are 1 to ${LIMITS.customMetadataKeyLength} characters`);
    if (typeof value !== "string" || value.length > LIMITS.customMetadataValueLength) {
      throw invalid(`custom metadata values are strings of at most ${LIMITS.customMetadataValueLength} characters`);
    }
  }
  return metadata;
}

function ageDays(versionCreatedAt: number, now: number): number {
  return Math.max(0, Math.floor((now - versionCreatedAt) / DAY_MS));
}

function changeOf(row: SecretRow) {
  return { kind: "secret" as const, id: row.id, workspaceId: row.workspaceId, scope: row.scope, ownerId: row.ownerId, name: row.name };
}

function idKey(workspaceId: string, id: string): string {
  return `i\u0000${workspaceId}\u0000${id}`;
}

function nameKey(ns: SecretNamespace, name: string): string {
  return `n\u0000${ns.workspaceId}\u0000${ns.scope}\u0000${ns.ownerId}\u0000${name}`;
}

function notFound(ref: string): CofferError {
  return new CofferError("SECRET_NOT_FOUND", `secret '${ref}' was not found`);
}

function conflict(row: SecretRow, expected: number): CofferError {
  return new CofferError("VERSION_CONFLICT", `secret '${row.name}' is at version ${row.currentVersion}, not ${expected}`);
}

