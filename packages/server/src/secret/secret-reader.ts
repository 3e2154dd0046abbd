/**
 * Reading secrets. The hot path is a read of a secret's current version by
 * name. Its row and decrypted data are cached per node, keyed by name and by
 * id; every write drops the entries on this node at commit and on the others
 * through the change feed. Process memory already holds the keyring, so
 * holding decrypted payloads there adds no new place for a value to leak from.
 * On a store shared by several nodes a cached entry is confirmed current
 * before it is served (secret-freshness.ts).
 */
import type { SecretData, SecretSummary } from "@coffer/protocol";
import { Cache } from "../core/cache.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { statusAt, viewOf, type RotationPlan } from "../rotation/rotation.rules.ts";
import { findVersion, type SecretNamespace, type SecretRow } from "./secret.repository.ts";
import { SecretFreshness } from "./secret-freshness.ts";
import { dataFields, decodeData } from "./secret.rules.ts";
import { ageDays, isGone, namespaceOf, SECRET_ID, summarize, versionGone, type SecretRows } from "./secret-rows.ts";
import type { SecretContext, SecretRead, SecretWithData } from "./secret.types.ts";
import type { ReadCondition } from "../audit/audit.types.ts";
import { atLeast } from "../identity/access.ts";

const MAX_BATCH = 100;
/** Secrets whose current version the read path keeps decrypted, unless the server is told otherwise (--secret-cache). */
export const DEFAULT_SECRET_CACHE = 10_000;
/**
 * A cached secret counts once per started KiB of its value: an entry holds
 * ~2.3 KiB beside the value (row, summary, answer) and the value about twice
 * (decoded and in the answer's JSON), so the default holds 10,000 secrets of
 * up to 1 KiB (25-45 MiB) or ~150 of 64 KiB (~20 MiB), where counting
 * secrets alone let 10,000 large ones take over 1 GiB, past the heap's limit.
 */
const WEIGHT_BYTES = 1024;

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
  /** What it counts for in the cache's capacity: 1 per started KiB of the value (WEIGHT_BYTES). */
  weight: number;
}

export class SecretReader {
  #rows: SecretRows;
  /** Each secret is held under two keys, its id and its name. */
  #current: Cache<string, CurrentSecret>;
  #freshness: SecretFreshness | undefined;

  constructor(rows: SecretRows, cachedSecrets: number) {
    this.#rows = rows;
    this.#current = new Cache(2 * cachedSecrets, (current) => current.weight);
    if (rows.store.dialect.sharedByNodes) this.#freshness = new SecretFreshness(rows.store.db);
    rows.store.changes.subscribe((change) => {
      if (change.kind === "secret") {
        this.#current.delete(idKey(change.workspaceId, change.id), nameKey(change, change.name));
      } else if (change.kind === "all" || change.kind === "workspace") {
        // Workspace settings include the rotation defaults that cached schedules were computed from.
        this.#current.clear();
      }
    });
  }

  async get(ctx: SecretContext, ref: string, version?: number): Promise<SecretWithData> {
    const current = await this.#readCurrent(ctx, ref);
    this.#rows.release(ctx, current.row, "read");
    if (version === undefined || version === current.row.currentVersion) return this.#currentView(current);
    return (await this.#olderVersion(current, version)).secret;
  }

  /**
   * get() of the current version, synchronously, when the answer is at hand:
   * cached, on a store no other node writes (elsewhere a cached entry is
   * confirmed first: unconfirmedCurrent). Undefined: call get(). Throws as
   * get() would (access, expiry, a gone version).
   */
  cachedCurrent(ctx: SecretContext, ref: string): Readonly<SecretWithData> | undefined {
    if (this.#freshness) return undefined;
    const current = this.#current.get(keyOf(ctx, ref));
    if (!current) return undefined;
    this.#rows.require(ctx, current.row, "read");
    this.#rows.release(ctx, current.row, "read");
    return this.#currentView(current);
  }

  /**
   * On a store several nodes share: the current version of a cached secret
   * as get() would answer it, before it is confirmed current, with the
   * condition that confirms it (AuditLog.recordIfCurrent checks it in the
   * statement that records the read). `served()` once confirmed. Undefined
   * when get() must answer instead: nothing cached, or an answer other than
   * the value (a refusal or a gone version is given only once confirmed).
   * With what read() adds, for the Vault adapter's read.
   */
  unconfirmedCurrent(ctx: SecretContext, ref: string): (SecretRead & { condition: ReadCondition; served(): void }) | undefined {
    if (!this.#freshness) return undefined;
    const current = this.#servable(ctx, ref);
    if (!current) return undefined;
    const { row } = current;
    return {
      ...this.#readOf(current),
      condition: { secretId: row.id, currentVersion: row.currentVersion, updatedAt: row.updatedAt, deletedAt: row.deletedAt },
      served: () => this.#rows.release(ctx, row, "read"),
    };
  }

  /**
   * read() of the current version, synchronously, when it is cached on a
   * store no other node writes and the answer is the value (the Vault
   * adapter's hot path, as cachedCurrent is the native read's). Undefined:
   * call read(), which also gives refusals and gone versions their answers.
   */
  cachedRead(ctx: SecretContext, ref: string): SecretRead | undefined {
    if (this.#freshness) return undefined;
    const current = this.#servable(ctx, ref);
    if (!current) return undefined;
    this.#rows.release(ctx, current.row, "read");
    return this.#readOf(current);
  }

  /** The row of the secret `ref` names as cached (a copy, maybe stale on a store several nodes share), if it is: where a write can start. */
  cachedRow(ctx: SecretContext, ref: string): SecretRow | undefined {
    return this.#current.get(keyOf(ctx, ref))?.row;
  }

  /** The cached current version when the caller may read its value now; undefined when anything else is the answer. */
  #servable(ctx: SecretContext, ref: string): CurrentSecret | undefined {
    const current = this.#current.get(keyOf(ctx, ref));
    if (!current) return undefined;
    const { row } = current;
    const now = this.#rows.clock();
    // A canary's alarm and an expired secret's refusal come from release(), on the way that answers them.
    if (now >= current.goneFrom || row.canary === 1 || (row.expiresAt !== null && now >= row.expiresAt) || !atLeast(this.#rows.levelOn(ctx, row), "read")) return undefined;
    return current;
  }

  /** get() with what Vault's KV v2 shows next to the data: the custom metadata and the version's scheduled deletion. */
  async read(ctx: SecretContext, ref: string, version?: number): Promise<SecretRead> {
    const current = await this.#readCurrent(ctx, ref);
    this.#rows.release(ctx, current.row, "read");
    if (version === undefined || version === current.row.currentVersion) return this.#readOf(current);
    return this.#olderVersion(current, version);
  }

  #readOf(current: CurrentSecret): SecretRead {
    return { secret: this.#currentView(current), customMetadata: current.customMetadata, deletesAt: Number.isFinite(current.goneFrom) ? current.goneFrom : null };
  }

  /** Several secrets' current values in one call, all or nothing: the first missing one fails the whole read. */
  async getMany(ctx: SecretContext, refs: string[]): Promise<SecretWithData[]> {
    if (refs.length === 0 || refs.length > MAX_BATCH) throw invalid(`read 1 to ${MAX_BATCH} secrets at a time`);
    const out: SecretWithData[] = [];
    for (const ref of new Set(refs)) out.push(await this.get(ctx, ref));
    return out;
  }

  /**
   * One version of a secret that `authorize` returned for `ctx`, opened but
   * not decoded, with when it was superseded (null for the current one): for
   * services that use a value on the caller's behalf without revealing it
   * (HMAC signing).
   */
  async openVersion(ctx: SecretContext, row: SecretRow, version: number): Promise<{ payload: Buffer; supersededAt: number | null }> {
    this.#rows.release(ctx, row, "hmac");
    const db = this.#rows.store.db;
    const [stored, successor] = await Promise.all([
      findVersion(db, row.id, version),
      version < row.currentVersion ? findVersion(db, row.id, version + 1) : undefined,
    ]);
    if (!stored || (version < row.currentVersion && !successor)) throw new CofferError("VERSION_NOT_FOUND", `secret '${row.name}' has no version ${version}`);
    // A deleted or destroyed version signs nothing and verifies nothing: deleting a leaked key version retires it.
    if (isGone(stored, this.#rows.clock())) throw versionGone(row, version, stored.destroyedAt !== null);
    return { payload: await this.#rows.open(row, version, stored.ciphertext), supersededAt: successor?.createdAt ?? null };
  }

  /** The current version's answer: one frozen object per version and day, never a deleted or destroyed version. */
  #currentView(current: CurrentSecret): Readonly<SecretWithData> {
    const now = this.#rows.clock();
    if (now >= current.goneFrom) throw versionGone(current.row, current.row.currentVersion, current.goneFrom === -Infinity);
    const age = ageDays(current.versionCreatedAt, now);
    const status = current.plan && statusAt(current.plan, now);
    if (current.view?.ageDays !== age || current.view.rotation?.status !== status) {
      current.view = Object.freeze({ ...current.summary, ageDays: age, ...(current.plan ? { rotation: viewOf(current.plan, now) } : {}), ...current.data });
    }
    return current.view;
  }

  async #olderVersion(current: CurrentSecret, version: number): Promise<SecretRead> {
    const stored = await this.#rows.liveVersion(current.row, version);
    const data = dataFields(decodeData(await this.#rows.open(current.row, version, stored.ciphertext)));
    // An old version has no schedule of its own: rotation describes the current value.
    const secret = { ...summarize({ ...current.row, currentVersion: version }, JSON.parse(stored.keys), stored.createdAt, this.#rows.clock(), undefined), ...data };
    return { secret, customMetadata: current.customMetadata, deletesAt: stored.deletedAt };
  }

  /**
   * The current value for a service that uses it on the caller's behalf and
   * never returns it (the relay): `use` suffices. Served from the read
   * path's cache, so a relayed call costs no query once warm.
   */
  async useCurrent(ctx: SecretContext, ref: string): Promise<{ row: SecretRow; data: Readonly<SecretData> }> {
    const current = await this.#readCurrent(ctx, ref, "use");
    this.#rows.release(ctx, current.row, "relay");
    if (this.#rows.clock() >= current.goneFrom) throw versionGone(current.row, current.row.currentVersion, current.goneFrom === -Infinity);
    return { row: current.row, data: current.data.data };
  }

  async #readCurrent(ctx: SecretContext, ref: string, level: "read" | "use" = "read"): Promise<CurrentSecret> {
    let current = this.#current.get(keyOf(ctx, ref));
    if (current && this.#freshness && !(await this.#freshness.isCurrent(current.row.id, current.row))) {
      // Another node's write the change feed has not brought yet.
      this.#current.delete(idKey(current.row.workspaceId, current.row.id), nameKey(current.row, current.row.name));
      current = undefined;
    }
    if (!current) {
      const epoch = this.#current.epoch;
      const row = await this.#rows.authorizedRow(ctx, ref, level);
      const stored = await findVersion(this.#rows.store.db, row.id, row.currentVersion);
      if (!stored) throw new CofferError("SECRET_NOT_FOUND", `secret '${ref}' was not found`);
      // A deleted or destroyed current version is cached as such (older versions stay readable); its value is never opened.
      const goneFrom = stored.destroyedAt !== null ? -Infinity : (stored.deletedAt ?? Infinity);
      const plaintext = goneFrom > this.#rows.clock() ? await this.#rows.open(row, row.currentVersion, stored.ciphertext) : undefined;
      const data = Object.freeze(dataFields(Object.freeze(plaintext ? decodeData(plaintext) : {})));
      const { ageDays: _, ...summary } = summarize(row, JSON.parse(stored.keys), stored.createdAt, 0, undefined);
      const plan = await this.#rows.planOf(row, stored.createdAt);
      // A copy of the row: the rows the store returns keep their properties in a dictionary
      // (~1.8 KiB each with a secret's 28 columns), the copy has fast ones (~0.3 KiB): 15 MiB
      // less heap with the cache full at its default 10,000 secrets.
      current = { row: { ...row }, versionCreatedAt: stored.createdAt, summary: Object.freeze(summary), data, plan, goneFrom, customMetadata: Object.freeze(JSON.parse(row.customMetadata)), weight: Math.max(1, Math.ceil((plaintext?.length ?? 0) / WEIGHT_BYTES)) };
      this.#current.set(idKey(row.workspaceId, row.id), current, epoch);
      this.#current.set(nameKey(row, row.name), current, epoch);
      return current;
    }
    this.#rows.require(ctx, current.row, level);
    return current;
  }
}

export function keyOf(ctx: SecretContext, ref: string): string {
  const ns = namespaceOf(ctx);
  return SECRET_ID.test(ref) ? idKey(ns.workspaceId, ref) : nameKey(ns, ref);
}

export function idKey(workspaceId: string, id: string): string {
  return `i\u0000${workspaceId}\u0000${id}`;
}

export function nameKey(ns: SecretNamespace, name: string): string {
  return `n\u0000${ns.workspaceId}\u0000${ns.scope}\u0000${ns.ownerId}\u0000${name}`;
}
