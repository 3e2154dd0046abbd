/**
 * Writing secrets: create, replace, patch, rollback, delete, restore and
 * destroy, and the rotation job's generated values. A write that makes a new
 * version moves the secret only if no other writer moved it first, so two
 * concurrent writers never both succeed from the same version.
 */
import type { CanaryFormat, SecretData, SecretSummary, SecretType } from "@coffer/protocol";
import type { Sealed } from "../crypto/keyring.ts";
import { DAY_MS } from "../core/clock.ts";
import { Cache } from "../core/cache.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { generateDecoy } from "../crypto/decoy.ts";
import { newId } from "../crypto/generate.ts";
import { atLeast, denied } from "../identity/access.ts";
import { requireWorkspaceAdmin } from "../identity/guards.ts";
import { oldestVersionSince } from "../rotation/rotation.repository.ts";
import { checkAutoRotate, checkInterval, planOf, ROTATION_ACTOR, SELF_ROTATING_TYPES } from "../rotation/rotation.rules.ts";
import { findRole, findWorkspace } from "../workspace/workspace.repository.ts";
import {
  advanceVersion,
  advanceWithVersions,
  destroySecret,
  findById,
  findByName,
  findVersion,
  insertSecret,
  insertVersion,
  listPersonalOf,
  pruneVersions,
  setDeleted,
  updateMetadata,
  type LifecycleSettings,
  type SecretRow,
} from "./secret.repository.ts";
import { checkExpiry, checkLabel, checkName, expiryChange, checkTags, checkType, dataFields, dataForType, decodeData, encodeData, mergeData, type SecretValue, type SecretValues } from "./secret.rules.ts";
import { idKey, keyOf, nameKey, type SecretReader } from "./secret-reader.ts";
import { changeOf, isGone, namespaceOf, notFound, SECRET_ID, summarize, versionGone, type SecretRows } from "./secret-rows.ts";
import type { Database } from "../store/store.ts";
import type { CreateInput, SecretContext, SecretWithData, UpdateInput } from "./secret.types.ts";

const WRITE_ATTEMPTS = 8;

export class SecretWriter {
  #rows: SecretRows;
  #reader: SecretReader;
  #graceMs: number;
  /**
   * Each secret's row as this node's last replace left it, by id and by name:
   * where the next replace starts, without reading the row first (a PUT's
   * select of 27 columns). Never invalidated: it may be stale, which
   * advanceVersion's condition (VersionBase) catches, and the write is then
   * made from the row as its transaction reads it. Only the columns that
   * condition compares, and the immutable ones, are to be trusted.
   */
  #held: Cache<string, SecretRow>;

  constructor(rows: SecretRows, reader: SecretReader, graceDays: number, heldSecrets: number) {
    this.#rows = rows;
    this.#reader = reader;
    this.#graceMs = graceDays * DAY_MS;
    this.#held = new Cache(2 * heldSecrets);
  }

  async create(ctx: SecretContext, input: CreateInput): Promise<SecretWithData> {
    const name = checkName(input.name);
    const type = checkType(input.type);
    const label = checkLabel(input.label, name);
    const tags = checkTags(input.tags);
    const rotationIntervalDays = checkInterval(input.rotationIntervalDays) ?? null;
    checkAutoRotate(type, input.autoRotate);
    if (!atLeast(this.#rows.namespaceLevel(ctx, name), "manage")) throw denied("only workspace owners and admins create shared secrets");
    if (input.canaryFormat !== undefined && !input.canary) throw invalid("canaryFormat goes with canary: true");
    const data = input.canary ? decoyFor(type, input.canaryFormat, input.data) : dataForType(type, input.data);
    const { plaintext, keys } = encodeData(data);
    const ns = namespaceOf(ctx);
    const now = this.#rows.clock();
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
      relayPolicy: null,
      approval: "none",
      canary: input.canary ? 1 : 0,
      expiresAt: input.expiresAt === undefined ? null : checkExpiry(input.expiresAt, now),
      expiryWarnedAt: null,
      lastUsedAt: null,
      unusedAlertedAt: null,
    };
    const { store, keys: keyService } = this.#rows;
    const ciphertext = keyService.seal({ workspaceId: ns.workspaceId, secretId: row.id, version: 1 }, plaintext);
    plaintext.fill(0);
    const exists = () => new CofferError("SECRET_ALREADY_EXISTS", `a secret named '${name}' already exists`);
    try {
      // Side by side with other writes: of two creating one name, the unique index fails the second, which then runs isolated.
      await store.writeGrouped(async (trx) => {
        if (await findByName(trx, ns, name)) throw exists();
        await insertSecret(trx, row);
        await insertVersion(trx, {
          secretId: row.id,
          version: 1,
          workspaceId: ns.workspaceId,
          ciphertext,
          keyVersion: keyService.keyVersion,
          keys: JSON.stringify(keys),
          createdAt: now,
          createdBy: actor,
          deletedAt: scheduledDeletion(row, ctx.access.workspace, now),
          destroyedAt: null,
        });
        await store.changes.announce(trx, changeOf(row));
      }, { sideBySide: row.id });
    } catch (error) {
      // Two creators raced past the check: the unique index let one through.
      if (!(error instanceof CofferError) && (await findByName(store.db, ns, name))) throw exists();
      throw error;
    }
    store.changes.apply(changeOf(row));
    return { ...summarize(row, keys, now, now, await this.#rows.planOf(row, now)), ...dataFields(data) };
  }

  /** Replaces every key/value pair; creates the secret when `upsert` and it does not exist. */
  async replace(ctx: SecretContext, ref: string, data: SecretValues, input: UpdateInput & { type?: string | undefined; upsert?: boolean }): Promise<{ secret: SecretWithData; created: boolean }> {
    const held = this.#reader.cachedRow(ctx, ref) ?? this.#held.get(keyOf(ctx, ref));
    if (!held) return this.#replace(ctx, ref, data, input, undefined);
    try {
      return await this.#replace(ctx, ref, data, input, held);
    } catch (error) {
      // The secret was destroyed since: what the store holds decides, as if nothing had been held (an upsert creates it).
      if (!(error instanceof CofferError) || error.code !== "SECRET_NOT_FOUND") throw error;
      return this.#replace(ctx, ref, data, input, undefined);
    }
  }

  /** replace(), starting from `held` (a copy of the row found by `ref`, maybe stale) when given. */
  async #replace(ctx: SecretContext, ref: string, data: SecretValues, input: UpdateInput & { type?: string | undefined; upsert?: boolean }, held: SecretRow | undefined): Promise<{ secret: SecretWithData; created: boolean }> {
    // A secret the caller may not see is treated as absent, so the answer is create's, never a hint that it exists.
    const existing = held ?? (input.upsert && !SECRET_ID.test(ref) ? await this.#rows.findRow(ctx, ref) : undefined);
    if (input.upsert && !SECRET_ID.test(ref) && (!existing || !atLeast(this.#rows.levelOn(ctx, existing), "see"))) {
      try {
        const { type, label, tags, rotationIntervalDays, autoRotate, expiresAt } = input;
        return { secret: await this.create(ctx, { name: ref, type, label, tags, rotationIntervalDays, autoRotate, expiresAt, data }), created: true };
      } catch (error) {
        if (!(error instanceof CofferError) || error.code !== "SECRET_ALREADY_EXISTS") throw error;
      }
    }
    if (input.type !== undefined) checkType(input.type);
    // Writing to a soft-deleted name brings the secret back with the new value, as a write after a delete does in Vault.
    const revive = input.upsert === true && !SECRET_ID.test(ref);
    const secret = await this.#write(ctx, ref, input, async () => data, input.type, revive, existing, (row) => {
      this.#held.set(idKey(row.workspaceId, row.id), row, this.#held.epoch);
      this.#held.set(nameKey(row, row.name), row, this.#held.epoch);
    });
    return { secret, created: false };
  }

  /** Sets or (with null) removes some keys, keeping the others; label and tags alone make no new version. */
  async patch(ctx: SecretContext, ref: string, patch: Record<string, SecretValue> | undefined, input: UpdateInput): Promise<SecretWithData> {
    if (patch === undefined || Object.keys(patch).length === 0) return this.#updateMetadata(ctx, ref, input);
    return this.#write(ctx, ref, input, async (row, trx) => {
      const current = await findVersion(trx, row.id, row.currentVersion);
      if (!current) throw new CofferError("VERSION_CONFLICT", "the secret changed during the update; try again");
      if (isGone(current, this.#rows.clock())) throw versionGone(row, row.currentVersion, current.destroyedAt !== null);
      return mergeData(decodeData(await this.#rows.open(row, row.currentVersion, current.ciphertext)), patch);
    });
  }

  /** Writes a new version equal to an old one. */
  async rollback(ctx: SecretContext, ref: string, version: number, cas?: number): Promise<SecretWithData> {
    return this.#write(ctx, ref, { cas }, async (row, trx) => {
      const old = await this.#rows.liveVersion(row, version, trx);
      return decodeData(await this.#rows.open(row, version, old.ciphertext));
    });
  }

  async softDelete(ctx: SecretContext, ref: string): Promise<void> {
    const row = await this.#rows.authorizedRow(ctx, ref, "write");
    await this.#rows.commit(row, (trx) => setDeleted(trx, row.id, this.#rows.clock(), ctx.principal.id));
  }

  async restore(ctx: SecretContext, ref: string): Promise<SecretSummary> {
    const row = await this.#rows.authorizedRow(ctx, ref, "write", { allowDeleted: true });
    if (row.deletedAt === null) throw invalid(`secret '${row.name}' is not deleted`);
    await this.#rows.commit(row, (trx) => setDeleted(trx, row.id, null, null));
    const { data: _, ...summary } = await this.#reader.get(ctx, row.id);
    return summary;
  }

  /** Removes the secret and every version for good. */
  async destroy(ctx: SecretContext, ref: string): Promise<void> {
    const row = await this.#rows.authorizedRow(ctx, ref, "manage", { allowDeleted: true });
    await this.#rows.commit(row, (trx) => destroySecret(trx, row.id), { dropsGrants: true });
  }

  /** A workspace admin removes a departed member's personal secrets, unread. */
  async destroyPersonalOf(ctx: SecretContext, userId: string): Promise<number> {
    requireWorkspaceAdmin(ctx.principal, ctx.access, "delete a member's personal secrets");
    const db = this.#rows.store.db;
    const rows = await listPersonalOf(db, ctx.access.workspace.id, userId);
    // Answering 0 for any username would let a workspace admin probe which users exist on the instance.
    if (rows.length === 0 && !(await findRole(db, ctx.access.workspace.id, userId))) {
      throw new CofferError("NOT_FOUND", "no such member of this workspace");
    }
    for (const row of rows) await this.#rows.commit(row, (trx) => destroySecret(trx, row.id), { dropsGrants: true });
    return rows.length;
  }

  /**
   * The rotation job's write, made by no caller: a new generated value for a
   * self-rotating secret still at `fromVersion`. The new version number, or
   * undefined when the secret changed, went away or stopped rotating itself.
   */
  async rotateGenerated(workspaceId: string, secretId: string, fromVersion: number): Promise<number | undefined> {
    const db = this.#rows.store.db;
    const [row, workspace] = await Promise.all([findById(db, workspaceId, secretId), findWorkspace(db, workspaceId)]);
    if (!row || !workspace || row.deletedAt !== null || row.currentVersion !== fromVersion || row.autoRotate !== 1) return undefined;
    const { plaintext, keys } = encodeData(dataForType(row.type as SecretType, undefined));
    const version = fromVersion + 1;
    const ciphertext = this.#rows.keys.seal({ workspaceId, secretId, version }, plaintext);
    plaintext.fill(0);
    const change = {
      currentVersion: version,
      updatedAt: this.#rows.clock(),
      updatedBy: ROTATION_ACTOR,
      label: row.label,
      tags: row.tags,
      rotationIntervalDays: row.rotationIntervalDays,
      autoRotate: row.autoRotate,
      expiresAt: row.expiresAt,
      expiryWarnedAt: row.expiryWarnedAt,
    };
    const now = change.updatedAt;
    const advanced = await this.#rows.commit(row, (trx) => this.#advance(trx, row, change, ciphertext, keys, row.maxVersions ?? workspace.maxVersions, scheduledDeletion(row, workspace, now)));
    return advanced ? version : undefined;
  }

  /**
   * A new version from `nextData`, made inside the write's transaction. With
   * group commit, an earlier write in the same batch may move the secret
   * after the caller's first read: the update then fails, and the write is
   * made again at once from the row as the transaction sees it (an
   * unconditional write builds on that version rather than fail), every
   * check done again on that row. `known`: the row as the caller found (or
   * held) it by `ref`, for the first attempt. `revive`: a soft-deleted
   * secret is brought back rather than not found. `onWritten`: told the
   * row as the write left it.
   */
  async #write(
    ctx: SecretContext,
    ref: string,
    input: UpdateInput,
    nextData: (row: SecretRow, trx: Database) => Promise<SecretValues>,
    type?: string,
    revive = false,
    known?: SecretRow,
    onWritten?: (row: SecretRow) => void,
  ): Promise<SecretWithData> {
    // The request's event goes in the transaction that makes the version, where the request allows it: one sync for both.
    const audit = ctx.from?.changeAudit?.();
    for (let attempt = 1; ; attempt++) {
      const options = { allowDeleted: revive };
      const found = attempt === 1 && known ? this.#rows.authorize(ctx, ref, known, "write", options) : await this.#rows.authorizedRow(ctx, ref, "write", options);
      // Side by side with writes to other secrets: the version moves by compare-and-set, so a write that lands between
      // two statements of this one fails it, and this one then reads the row again.
      const written = await this.#rows.commit(found, async (trx) => {
        let made = await this.#newVersion(trx, ctx, found, input, nextData, type, revive, false);
        if (!made) {
          const row = await findById(trx, found.workspaceId, found.id);
          if (!row || (row.deletedAt !== null && !revive)) throw notFound(ref);
          this.#rows.require(ctx, row, "write");
          made = await this.#newVersion(trx, ctx, row, input, nextData, type, revive, true);
        }
        if (made && audit) await audit.write(trx, { workspaceId: made.row.workspaceId, secretId: made.row.id, secretName: made.row.name });
        return made;
      }, { sideBySide: true });
      if (written) {
        audit?.committed();
        const { row, keys, data, now, intervalDays } = written;
        onWritten?.(row);
        return { ...summarize(row, keys, now, now, planOf(intervalDays, now)), ...dataFields(data) };
      }
      // Another node moved the secret between this transaction's read and its update (PostgreSQL). With check-and-set that is the caller's conflict; without, retry.
      if (input.cas !== undefined) throw conflict(found, input.cas);
      if (attempt >= WRITE_ATTEMPTS) throw new CofferError("VERSION_CONFLICT", `secret '${found.name}' is being changed by others; try again`);
    }
  }

  /**
   * #write's version after `row`, in `trx`; undefined when the secret is no
   * longer as `row` says (VersionBase), or when `row` was not read in `trx`
   * (`confirmed` false) and a check refuses the write or its version is gone:
   * a row read earlier, or held, may be stale, so only the row the
   * transaction reads refuses.
   */
  async #newVersion(
    trx: Database,
    ctx: SecretContext,
    row: SecretRow,
    input: UpdateInput,
    nextData: (row: SecretRow, trx: Database) => Promise<SecretValues>,
    type: string | undefined,
    reviveDeleted: boolean,
    confirmed: boolean,
  ): Promise<{ row: SecretRow; keys: string[]; data: SecretValues; now: number; intervalDays: number | null } | undefined> {
    const revive = reviveDeleted && row.deletedAt !== null;
    const refused = refusal(ctx, row, input, type);
    if (refused) {
      if (confirmed) throw refused;
      return undefined;
    }
    let data: SecretValues;
    try {
      data = await nextData(row, trx);
    } catch (error) {
      // A patch from a row read before the transaction may find its version pruned since (VERSION_CONFLICT).
      if (!confirmed && error instanceof CofferError && error.code === "VERSION_CONFLICT") return undefined;
      throw error;
    }
    if (input.onlyKeys && !sameKeys(Object.keys(data), input.onlyKeys)) {
      throw new CofferError("INVALID_SECRET_TYPE", `secret '${row.name}' holds several keys; this write applies only to a secret holding just ${input.onlyKeys.join(", ")}`);
    }
    const { plaintext, keys } = encodeData(data);
    const version = row.currentVersion + 1;
    const now = this.#rows.clock();
    const ciphertext = this.#rows.keys.seal({ workspaceId: row.workspaceId, secretId: row.id, version }, plaintext);
    plaintext.fill(0);
    const label = input.label === undefined ? row.label : checkLabel(input.label, row.name);
    const tags = input.tags === undefined ? row.tags : JSON.stringify(checkTags(input.tags));
    const rotation = lifecycleSettings(row, input, now);
    const change = { currentVersion: version, updatedAt: now, updatedBy: ctx.principal.id, label, tags, ...rotation, ...(revive ? { deletedAt: null, deletedBy: null } : {}) };
    const maxVersions = row.maxVersions ?? ctx.access.workspace.maxVersions;
    const advanced = await this.#advance(trx, row, change, ciphertext, keys, maxVersions, scheduledDeletion(row, ctx.access.workspace, now));
    if (!advanced) return undefined;
    return { row: { ...row, ...change, deletedAt: null }, keys, data, now, intervalDays: advanced.intervalDays };
  }

  async #updateMetadata(ctx: SecretContext, ref: string, input: UpdateInput): Promise<SecretWithData> {
    const row = await this.#rows.authorizedRow(ctx, ref, "write");
    if (input.cas !== undefined && input.cas !== row.currentVersion) throw conflict(row, input.cas);
    const label = input.label === undefined ? row.label : checkLabel(input.label, row.name);
    const tags = input.tags === undefined ? row.tags : JSON.stringify(checkTags(input.tags));
    const rotation = lifecycleSettings(row, input, this.#rows.clock());
    await this.#rows.commit(row, (trx) => updateMetadata(trx, row.id, { label, tags, ...rotation, updatedAt: this.#rows.clock(), updatedBy: ctx.principal.id }));
    return this.#reader.get(ctx, row.id);
  }

  /**
   * Moves `row` to a new version holding `ciphertext`, unless another writer
   * moved it first (undefined; else the interval that applies: advanceVersion). Keeps the last `maxVersions`, and for the types
   * that rotate, every version superseded within the grace period too, so
   * consumers still switching can read it (and HMAC verify can check it).
   */
  async #advance(
    trx: Database,
    row: SecretRow,
    change: Parameters<typeof advanceVersion>[3],
    ciphertext: Sealed,
    keys: string[],
    maxVersions: number,
    deletedAt: number | null,
  ): Promise<{ intervalDays: number | null } | undefined> {
    const version = change.currentVersion;
    const newVersion = {
      secretId: row.id,
      version,
      workspaceId: row.workspaceId,
      ciphertext,
      keyVersion: this.#rows.keys.keyVersion,
      keys: JSON.stringify(keys),
      createdAt: change.updatedAt,
      createdBy: change.updatedBy,
      deletedAt,
      destroyedAt: null,
    };
    let keepFrom = version - maxVersions + 1;
    const selfRotating = SELF_ROTATING_TYPES.includes(row.type as SecretType);
    // What to keep of a type that rotates itself depends on the versions it holds: read after the new one is in.
    if (this.#rows.store.dialect.changesInOneStatement && !selfRotating) return advanceWithVersions(trx, row.id, row, change, row.deletedAt !== null, newVersion, keepFrom);
    const advanced = await advanceVersion(trx, row.id, row, change, row.deletedAt !== null);
    if (!advanced) return undefined;
    await insertVersion(trx, newVersion);
    if (selfRotating) {
      const inGrace = await oldestVersionSince(trx, row.id, change.updatedAt - this.#graceMs);
      if (inGrace !== null) keepFrom = Math.min(keepFrom, inGrace - 1);
    }
    // Versions start at 1: a secret with no more versions than it keeps has none to prune, and most have few.
    if (keepFrom > 1) await pruneVersions(trx, row.id, keepFrom);
    return advanced;
  }
}

/** The row's rotation settings after an update: given fields change, absent ones stay; autoRotate only for the types that can. */
function sameKeys(keys: readonly string[], expected: readonly string[]): boolean {
  return keys.length === expected.length && expected.every((key) => keys.includes(key));
}

function lifecycleSettings(row: SecretRow, input: UpdateInput, now: number): LifecycleSettings {
  const interval = checkInterval(input.rotationIntervalDays);
  checkAutoRotate(row.type, input.autoRotate);
  return {
    rotationIntervalDays: interval === undefined ? row.rotationIntervalDays : interval,
    autoRotate: input.autoRotate === undefined ? row.autoRotate : input.autoRotate ? 1 : 0,
    ...expiryChange(row, input.expiresAt, now),
  };
}

/** When a version written now is to be deleted: the shorter of the secret's and the workspace's delete-after, if any. */
function scheduledDeletion(row: SecretRow, workspace: { deleteVersionAfter: number }, now: number): number | null {
  const after = [Number(row.deleteVersionAfter), Number(workspace.deleteVersionAfter)].filter((seconds) => seconds > 0);
  return after.length === 0 ? null : now + Math.min(...after) * 1000;
}

/** Why a new version of `row` is refused before its data is even looked at, if it is. */
function refusal(ctx: SecretContext, row: SecretRow, input: UpdateInput, type: string | undefined): CofferError | undefined {
  if (type !== undefined && type !== row.type) {
    return new CofferError("INVALID_SECRET_TYPE", `secret '${row.name}' is ${row.type}; a secret's type cannot change, create a new secret instead`);
  }
  if (input.cas === undefined && (row.casRequired === 1 || ctx.access.workspace.casRequired === 1)) {
    return new CasRequired(`secret '${row.name}' requires check-and-set: send cas with the version you last read`);
  }
  if (input.cas !== undefined && input.cas !== row.currentVersion) return conflict(row, input.cas);
  return undefined;
}

/** A write without cas where the secret or its workspace requires one: INVALID_REQUEST, told apart so Vault's adapter can word it as Vault does. */
export class CasRequired extends CofferError {
  constructor(message: string) {
    super("INVALID_REQUEST", message);
  }
}

function conflict(row: SecretRow, expected: number): CofferError {
  return new CofferError("VERSION_CONFLICT", `secret '${row.name}' is at version ${row.currentVersion}, not ${expected}`);
}

/** A canary's value: Coffer's decoy in the given format (USER_DEFINED), or its type's generated value; never one given. */
function decoyFor(type: SecretType, format: CanaryFormat | undefined, data: SecretValues | undefined): SecretValues {
  if (data !== undefined && Object.keys(data).length > 0) throw invalid("a canary's value is a decoy Coffer generates: give no data");
  if (type !== "USER_DEFINED") {
    if (format !== undefined) throw invalid(`canaryFormat applies to USER_DEFINED canaries; a ${type} canary holds a generated ${type} value`);
    return dataForType(type, undefined);
  }
  return generateDecoy(format ?? "aws");
}
