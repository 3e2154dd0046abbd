/**
 * What every secret module shares: finding a secret's row by id or name,
 * deciding whether the caller may act on it, opening a stored version, and
 * committing a write so every node's caches drop the secret. The reader,
 * writer, lister, versions and settings modules build on this one; it
 * depends on none of them.
 */
import type { SecretScope, SecretSummary, SecretType } from "@coffer/protocol";
import type { AccessService } from "../access/access.service.ts";
import { DAY_MS, type Clock } from "../core/clock.ts";
import { CofferError } from "../core/errors.ts";
import { atLeast, denied, LEVELS, sharedLevelOfRole, type Level } from "../identity/access.ts";
import type { KeyService } from "../keys/keys.service.ts";
import { findDefaultInterval } from "../rotation/rotation.repository.ts";
import { planOf, viewOf, type RotationPlan } from "../rotation/rotation.rules.ts";
import type { Change } from "../store/changes.ts";
import type { Store } from "../store/store.ts";
import { findById, findByName, findVersion, type SecretNamespace, type SecretRow, type VersionRow } from "./secret.repository.ts";
import type { SecretContext, SecretWatch, ValueUse } from "./secret.types.ts";
import type { SecretUsage } from "./secret-usage.ts";

export const SECRET_ID = /^sec_[0-9a-hjkmnp-tv-z]{26}$/;

export class SecretRows {
  readonly store: Store;
  readonly keys: KeyService;
  readonly clock: Clock;
  #access: AccessService;
  #watch: SecretWatch;
  #usage: SecretUsage;

  constructor(store: Store, keys: KeyService, clock: Clock, access: AccessService, watch: SecretWatch, usage: SecretUsage) {
    this.store = store;
    this.keys = keys;
    this.clock = clock;
    this.#access = access;
    this.#watch = watch;
    this.#usage = usage;
  }

  /**
   * The gate every value passes on its way out of the secret layer, read or
   * used: the reader's get, read, batch read and relayed use, and the HMAC
   * key. What depends on the value leaving, not on who may see the secret,
   * lives here, so no route can miss it: the canary alarm, expiry, the
   * last-used time. Metadata and lists never pass here.
   */
  release(ctx: SecretContext, row: SecretRow, use: ValueUse): void {
    // A canary raises its alarm even expired: the attempt is what gives the thief away.
    if (row.canary === 1) this.#watch.canaryTouched({ ctx, secret: row, use });
    if (row.expiresAt !== null && this.clock() >= row.expiresAt) {
      throw new CofferError("SECRET_EXPIRED", `secret '${row.name}' expired at ${new Date(row.expiresAt).toISOString()}; a writer can set a later expiresAt`);
    }
    this.#usage.note(row.id);
  }

  async findRow(ctx: SecretContext, ref: string): Promise<SecretRow | undefined> {
    const ns = namespaceOf(ctx);
    const db = this.store.db;
    if (SECRET_ID.test(ref)) {
      const row = await findById(db, ns.workspaceId, ref);
      if (row) return row;
    }
    return findByName(db, ns, ref);
  }

  /** The secret if the caller may act on it at `level`; SECRET_NOT_FOUND when it may not even see it. */
  async authorizedRow(ctx: SecretContext, ref: string, level: Level, options: { allowDeleted?: boolean } = {}): Promise<SecretRow> {
    return this.authorize(ctx, ref, await this.findRow(ctx, ref), level, options);
  }

  /** authorizedRow for a row already found by `ref` (findRow). */
  authorize(ctx: SecretContext, ref: string, row: SecretRow | undefined, level: Level, options: { allowDeleted?: boolean } = {}): SecretRow {
    if (!row || (row.deletedAt !== null && !options.allowDeleted)) throw notFound(ref);
    this.require(ctx, row, level);
    return row;
  }

  levelOn(ctx: SecretContext, row: Pick<SecretRow, "id" | "name" | "scope" | "ownerId">): Level {
    return this.#access.levelOn(ctx.principal, ctx.access, ctx.acl, row);
  }

  /** The caller's level over the namespace it addresses (optionally for one name): its own personal secrets, or the workspace's shared ones. */
  namespaceLevel(ctx: SecretContext, name?: string): Level {
    const { scope } = ctx.principal.scope;
    const cap = name === undefined ? scope.maxLevel : ctx.principal.scope.levelCap(name);
    const level = ctx.scope === "personal" ? "manage" : sharedLevelOfRole(ctx.access.role);
    return LEVELS[level] <= LEVELS[cap] ? level : cap;
  }

  require(ctx: SecretContext, row: SecretRow, level: Level): void {
    const granted = this.levelOn(ctx, row);
    if (!atLeast(granted, "see")) throw notFound(row.name);
    if (!atLeast(granted, level)) throw denied(`you may not ${level === "read" || level === "use" ? level : "change"} secret '${row.name}'`);
  }

  /** A stored version the caller may read: not deleted, not destroyed. */
  async liveVersion(row: SecretRow, version: number, db: Store["db"] = this.store.db): Promise<VersionRow> {
    const stored = await findVersion(db, row.id, version);
    if (!stored) throw new CofferError("VERSION_NOT_FOUND", `secret '${row.name}' has no version ${version}`);
    if (isGone(stored, this.clock())) throw versionGone(row, version, stored.destroyedAt !== null);
    return stored;
  }

  /** The secret's schedule: its own interval, else its label's workspace default. */
  async planOf(row: Pick<SecretRow, "workspaceId" | "label" | "rotationIntervalDays">, rotatedAt: number): Promise<RotationPlan | undefined> {
    const days = row.rotationIntervalDays ?? (await findDefaultInterval(this.store.db, row.workspaceId, row.label));
    return planOf(days, rotatedAt);
  }

  /**
   * Runs a write that changes `row`, group-committed with other requests'
   * writes (Store.writeGrouped: `fn` works in the transaction alone and may
   * run twice), and drops the secret from every node's cache on commit.
   * `dropsGrants`: the write removes the secret's grants (destroying it), so
   * the workspace's access caches go too; other writes leave them, and the
   * read path's cached workspace, alone. `sideBySide`: `fn` may run at the
   * same time as other writes to other secrets (Store.writeGrouped).
   */
  async commit<T>(row: SecretRow, fn: (trx: Store["db"]) => Promise<T>, { dropsGrants = false, sideBySide = false } = {}): Promise<T> {
    const changes: Change[] = [changeOf(row), ...(dropsGrants ? [{ kind: "access" as const, workspaceId: row.workspaceId }] : [])];
    const result = await this.store.writeGrouped(async (trx) => {
      const value = await fn(trx);
      for (const change of changes) await this.store.changes.announce(trx, change);
      return value;
    }, { sideBySide: sideBySide ? row.id : undefined });
    for (const change of changes) this.store.changes.apply(change);
    return result;
  }

  async open(row: SecretRow, version: number, ciphertext: Uint8Array): Promise<Buffer> {
    try {
      return await this.keys.open({ workspaceId: row.workspaceId, secretId: row.id, version }, ciphertext);
    } catch (error) {
      if ((error as Error).name === "IntegrityError") {
        throw new CofferError("INTEGRITY_ERROR", `the stored ciphertext of secret '${row.name}' version ${version} failed authentication`);
      }
      throw error;
    }
  }
}

export function namespaceOf(ctx: SecretContext): SecretNamespace {
  return {
    workspaceId: ctx.access.workspace.id,
    scope: ctx.scope,
    ownerId: ctx.scope === "personal" ? ctx.principal.id : "",
  };
}

export function summarize(
  row: Pick<SecretRow, "id" | "name" | "scope" | "type" | "label" | "tags" | "currentVersion" | "createdAt" | "deletedAt" | "autoRotate" | "expiresAt">,
  keys: string[],
  versionCreatedAt: number,
  now: number,
  plan: RotationPlan | undefined,
): SecretSummary {
  return summaryAt(summaryBase(row, keys, versionCreatedAt), versionCreatedAt, now, plan);
}

/** A summary's fields that stay the same for a row version: all but the age and the rotation status, which move with the clock. */
export type SummaryBase = Omit<SecretSummary, "ageDays" | "rotation">;

export function summaryBase(
  row: Pick<SecretRow, "id" | "name" | "scope" | "type" | "label" | "tags" | "currentVersion" | "createdAt" | "deletedAt" | "autoRotate" | "expiresAt">,
  keys: string[],
  versionCreatedAt: number,
): SummaryBase {
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
    deletedAt: row.deletedAt === null ? null : new Date(row.deletedAt).toISOString(),
    autoRotate: row.autoRotate === 1,
    ...(row.expiresAt === null ? {} : { expiresAt: new Date(row.expiresAt).toISOString() }),
  };
}

/** The summary of a row version at `now`. */
export function summaryAt(base: SummaryBase, versionCreatedAt: number, now: number, plan: RotationPlan | undefined): SecretSummary {
  return {
    id: base.id,
    name: base.name,
    scope: base.scope,
    type: base.type,
    label: base.label,
    tags: base.tags,
    keys: base.keys,
    version: base.version,
    createdAt: base.createdAt,
    updatedAt: base.updatedAt,
    ageDays: ageDays(versionCreatedAt, now),
    deletedAt: base.deletedAt,
    autoRotate: base.autoRotate,
    ...(plan ? { rotation: viewOf(plan, now) } : {}),
    ...(base.expiresAt === undefined ? {} : { expiresAt: base.expiresAt }),
  };
}

export function ageDays(versionCreatedAt: number, now: number): number {
  return Math.max(0, Math.floor((now - versionCreatedAt) / DAY_MS));
}

export function isGone(version: Pick<VersionRow, "deletedAt" | "destroyedAt">, now: number): boolean {
  return version.destroyedAt !== null || (version.deletedAt !== null && version.deletedAt <= now);
}

export function versionGone(row: SecretRow, version: number, destroyed: boolean): CofferError {
  return new CofferError("VERSION_NOT_FOUND", `version ${version} of secret '${row.name}' is ${destroyed ? "destroyed" : "deleted"}`);
}

export function changeOf(row: SecretRow) {
  return { kind: "secret" as const, id: row.id, workspaceId: row.workspaceId, scope: row.scope, ownerId: row.ownerId, name: row.name };
}

export function notFound(ref: string): CofferError {
  return new CofferError("SECRET_NOT_FOUND", `secret '${ref}' was not found`);
}
