/**
 * Secrets: create, read, update, version, delete. Every method takes the
 * caller and the workspace it resolved, and checks access itself, so no
 * route can forget to.
 *
 * This is the facade the routes and other services call. The work lives in
 * one module per concern, and dependencies point one way:
 *
 *   secret-rows      find, authorize, open, commit (shared by all below)
 *   secret-reader    reads and the per-node cache of current values
 *   secret-list      pages of summaries
 *   secret-versions  version history: list, delete, undelete, destroy
 *   secret-settings  metadata and per-secret settings
 *   secret-writer    create, replace, patch, rollback, delete, restore (uses the reader)
 */
import type { SecretData, SecretMetadata, SecretScope, SecretSummary, SecretVersionInfo } from "@coffer/protocol";
import type { AccessService } from "../access/access.service.ts";
import type { Clock } from "../core/clock.ts";
import type { OriginSource } from "../core/request-origin.ts";
import { atLeast, type Level } from "../identity/access.ts";
import type { Principal } from "../identity/principal.ts";
import type { KeyService } from "../keys/keys.service.ts";
import type { Store } from "../store/store.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import type { SecretNamespace, SecretRow } from "./secret.repository.ts";
import type { SecretValue, SecretValues } from "./secret.rules.ts";
import { SecretLister } from "./secret-list.ts";
import { RowSummaries, SummaryCache } from "./secret-summaries.ts";
import { SecretReader } from "./secret-reader.ts";
import { SecretRows } from "./secret-rows.ts";
import { SecretUsage } from "./secret-usage.ts";
import { SecretSettingsManager } from "./secret-settings.ts";
import { SecretVersions } from "./secret-versions.ts";
import { SecretWriter } from "./secret-writer.ts";
import type { CreateInput, ListQuery, ListResult, SecretContext, SecretRead, SecretWatch, SecretWithData, SettingsInput, UpdateInput } from "./secret.types.ts";

export type { CanaryTrigger, CreateInput, ListQuery, ListResult, SecretContext, SecretRead, SecretWatch, SecretWithData, SettingsInput, UpdateInput, ValueUse } from "./secret.types.ts";

export class SecretService {
  #workspaces: WorkspaceService;
  #access: AccessService;
  #rows: SecretRows;
  #reader: SecretReader;
  #lister: SecretLister;
  #versions: SecretVersions;
  #settings: SecretSettingsManager;
  #writer: SecretWriter;
  #usage: SecretUsage;

  constructor(store: Store, keys: KeyService, clock: Clock, workspaces: WorkspaceService, access: AccessService, graceDays: number, watch: SecretWatch, log: (message: string) => void, listCacheSecrets: number, readCacheSecrets: number) {
    this.#workspaces = workspaces;
    this.#access = access;
    this.#usage = new SecretUsage(store, clock, log);
    this.#rows = new SecretRows(store, keys, clock, access, watch, this.#usage);
    this.#reader = new SecretReader(this.#rows, readCacheSecrets);
    const cache = listCacheSecrets === 0 ? undefined : new SummaryCache(store, listCacheSecrets);
    // Where lists may still go to the store with a cache (secret-summaries.ts), the summaries they build are kept too.
    this.#lister = new SecretLister(this.#rows, access, cache, new RowSummaries(cache && !store.dialect.sharedByNodes ? 0 : listCacheSecrets));
    this.#versions = new SecretVersions(this.#rows);
    this.#settings = new SecretSettingsManager(this.#rows, this.#versions);
    this.#writer = new SecretWriter(this.#rows, this.#reader, graceDays, readCacheSecrets);
  }

  /** Resolves the caller's workspace and its grants once per request; `from`: the request. */
  async context(principal: Principal, workspace: string, scope: SecretScope = "shared", from?: OriginSource): Promise<SecretContext> {
    const cached = this.cachedContext(principal, workspace, scope, from);
    if (cached) return cached;
    const access = await this.#workspaces.access(principal, workspace);
    return { principal, access, acl: await this.#access.acl(access.workspace.id), scope, from };
  }

  /** context() when the workspace, the caller's role and the grants are in memory, without a promise; else undefined. */
  cachedContext(principal: Principal, workspace: string, scope: SecretScope = "shared", from?: OriginSource): SecretContext | undefined {
    const cached = this.#workspaces.cachedAccess(principal, workspace);
    const loaded = cached && this.#access.loadedAcl(cached.workspace.id);
    return cached && loaded ? { principal, access: cached, acl: loaded, scope, from } : undefined;
  }

  get(ctx: SecretContext, ref: string, version?: number): Promise<SecretWithData> {
    return this.#reader.get(ctx, ref, version);
  }

  /** SecretReader.cachedCurrent: get() of the current version when it is in memory, without a promise. */
  cachedCurrent(ctx: SecretContext, ref: string): Readonly<SecretWithData> | undefined {
    return this.#reader.cachedCurrent(ctx, ref);
  }

  /** SecretReader.unconfirmedCurrent: a cached current value, to be confirmed in the statement that records its read. */
  unconfirmedCurrent(ctx: SecretContext, ref: string) {
    return this.#reader.unconfirmedCurrent(ctx, ref);
  }

  /** SecretReader.cachedRead: read() of the current version when it is in memory, without a promise. */
  cachedRead(ctx: SecretContext, ref: string): SecretRead | undefined {
    return this.#reader.cachedRead(ctx, ref);
  }

  /** get() with what Vault's KV v2 shows next to the data: the custom metadata and the version's scheduled deletion. */
  read(ctx: SecretContext, ref: string, version?: number): Promise<SecretRead> {
    return this.#reader.read(ctx, ref, version);
  }

  /** Several secrets' current values in one call, all or nothing: the first missing one fails the whole read. */
  getMany(ctx: SecretContext, refs: string[]): Promise<SecretWithData[]> {
    return this.#reader.getMany(ctx, refs);
  }

  list(ctx: SecretContext, query: ListQuery): Promise<ListResult> {
    return this.#lister.list(ctx, query);
  }

  /** The ids and names of a namespace's live secrets under a folder, only those of `ids` when given (SecretLister.namesUnder). */
  namesUnder(ns: SecretNamespace, prefix: string, ids: string[] | undefined): Promise<readonly { id: string; name: string }[]> {
    return this.#lister.namesUnder(ns, prefix, ids);
  }

  create(ctx: SecretContext, input: CreateInput): Promise<SecretWithData> {
    return this.#writer.create(ctx, input);
  }

  /** Replaces every key/value pair; creates the secret when `upsert` and it does not exist. */
  replace(ctx: SecretContext, ref: string, data: SecretValues, input: UpdateInput & { type?: string | undefined; upsert?: boolean }): Promise<{ secret: SecretWithData; created: boolean }> {
    return this.#writer.replace(ctx, ref, data, input);
  }

  /** Sets or (with null) removes some keys, keeping the others; label and tags alone make no new version. */
  patch(ctx: SecretContext, ref: string, patch: Record<string, SecretValue> | undefined, input: UpdateInput): Promise<SecretWithData> {
    return this.#writer.patch(ctx, ref, patch, input);
  }

  /** Writes a new version equal to an old one. */
  rollback(ctx: SecretContext, ref: string, version: number, cas?: number): Promise<SecretWithData> {
    return this.#writer.rollback(ctx, ref, version, cas);
  }

  versions(ctx: SecretContext, ref: string): Promise<SecretVersionInfo[]> {
    return this.#versions.versions(ctx, ref);
  }

  /** Everything about a secret but its value, and what the caller may do with it; nothing is decrypted. */
  metadata(ctx: SecretContext, ref: string): Promise<SecretMetadata> {
    return this.#settings.metadata(ctx, ref);
  }

  updateSettings(ctx: SecretContext, ref: string, input: SettingsInput): Promise<SecretMetadata> {
    return this.#settings.updateSettings(ctx, ref, input);
  }

  /** Soft-deletes some versions (default: the current one); they can be undeleted. Versions that do not exist are ignored, as in Vault. */
  deleteVersions(ctx: SecretContext, ref: string, versions?: number[]): Promise<SecretVersionInfo[]> {
    return this.#versions.deleteVersions(ctx, ref, versions);
  }

  undeleteVersions(ctx: SecretContext, ref: string, versions: number[]): Promise<SecretVersionInfo[]> {
    return this.#versions.undeleteVersions(ctx, ref, versions);
  }

  /** Wipes some versions' values for good; their metadata stays. */
  destroyVersions(ctx: SecretContext, ref: string, versions: number[]): Promise<SecretVersionInfo[]> {
    return this.#versions.destroyVersions(ctx, ref, versions);
  }

  softDelete(ctx: SecretContext, ref: string): Promise<void> {
    return this.#writer.softDelete(ctx, ref);
  }

  restore(ctx: SecretContext, ref: string): Promise<SecretSummary> {
    return this.#writer.restore(ctx, ref);
  }

  /** Removes the secret and every version for good. */
  destroy(ctx: SecretContext, ref: string): Promise<void> {
    return this.#writer.destroy(ctx, ref);
  }

  /** The rotation job's write, made by no caller: see SecretWriter.rotateGenerated. */
  rotateGenerated(workspaceId: string, secretId: string, fromVersion: number): Promise<number | undefined> {
    return this.#writer.rotateGenerated(workspaceId, secretId, fromVersion);
  }

  /**
   * Whether the caller sees every name of the namespace (or this one): then a missing secret is news to it.
   * Otherwise it sees only what it was granted, and a hidden secret looks exactly like a missing one.
   */
  seesEveryName(ctx: SecretContext, name?: string): boolean {
    return atLeast(this.#rows.namespaceLevel(ctx, name), "see");
  }

  /** The secret if the caller holds `level` on it: for services that act on secrets (grants, HMAC use). */
  authorize(ctx: SecretContext, ref: string, level: Level, options: { allowDeleted?: boolean } = {}): Promise<SecretRow> {
    return this.#rows.authorizedRow(ctx, ref, level, options);
  }

  /** The current value, at `use`, for a service that never returns it (the relay): see SecretReader.useCurrent. */
  useCurrent(ctx: SecretContext, ref: string): Promise<{ row: SecretRow; data: Readonly<SecretData> }> {
    return this.#reader.useCurrent(ctx, ref);
  }

  /** One version of a secret that `authorize` returned, opened but not decoded: see SecretReader.openVersion. */
  openVersion(ctx: SecretContext, row: SecretRow, version: number): Promise<{ payload: Buffer; supersededAt: number | null }> {
    return this.#reader.openVersion(ctx, row, version);
  }

  /** Writes the last-used times noted so far (they are written every few seconds otherwise). */
  flushUsage(): Promise<void> {
    return this.#usage.flush();
  }

  /** Stops the last-used timer after writing what it holds. */
  close(): Promise<void> {
    return this.#usage.close();
  }

  /** A workspace admin removes a departed member's personal secrets, unread. */
  destroyPersonalOf(ctx: SecretContext, userId: string): Promise<number> {
    return this.#writer.destroyPersonalOf(ctx, userId);
  }
}
