/**
 * A secret's metadata and per-secret settings (check-and-set, versions kept,
 * delete-after, custom metadata): what the web UI shows and Vault's metadata
 * endpoints read and write. Nothing here decrypts a value.
 */
import { LIMITS, type ApprovalSetting, type SecretMetadata, type SecretSettings, type SecretSummary, type SecretVersionInfo } from "@coffer/protocol";
import { invalid } from "../core/errors.ts";
import { atLeast } from "../identity/access.ts";
import { checkDeleteAfter, checkMaxVersions } from "../workspace/workspace.service.ts";
import { findVersion, updateSettings, type SecretRow } from "./secret.repository.ts";
import { notFound, summarize, type SecretRows } from "./secret-rows.ts";
import { expiryChange } from "./secret.rules.ts";
import type { SecretVersions } from "./secret-versions.ts";
import type { SecretContext, SettingsInput } from "./secret.types.ts";
import { checkPolicy, parsePolicy } from "../relay/relay-policy.ts";

export class SecretSettingsManager {
  #rows: SecretRows;
  #versions: SecretVersions;

  constructor(rows: SecretRows, versions: SecretVersions) {
    this.#rows = rows;
    this.#versions = versions;
  }

  /**
   * Everything about a secret but its value, and what the caller may do with
   * it: what the web UI shows (write-only there) and Vault's metadata read;
   * nothing is decrypted.
   */
  async metadata(ctx: SecretContext, ref: string): Promise<SecretMetadata> {
    const row = await this.#rows.authorizedRow(ctx, ref, "see", { allowDeleted: true });
    const stored = await findVersion(this.#rows.store.db, row.id, row.currentVersion);
    if (!stored) throw notFound(ref);
    const now = this.#rows.clock();
    const summary = summarize(row, JSON.parse(stored.keys), stored.createdAt, now, await this.#rows.planOf(row, now));
    const access = this.#rows.levelOn(ctx, row);
    // Whether it is a decoy is the owners' secret: a reader who could tell would leave it alone.
    return { ...metadataOf(row, await this.#versions.versionsOf(row)), ...summary, access, ...(atLeast(access, "manage") ? { canary: row.canary === 1 } : {}) };
  }

  async updateSettings(ctx: SecretContext, ref: string, input: SettingsInput): Promise<SecretMetadata> {
    // Where a value may be sent and who must be approved are the owner's decisions, as sharing is.
    const ownerOnly = input.relayPolicy !== undefined || input.approval !== undefined;
    const row = await this.#rows.authorizedRow(ctx, ref, ownerOnly ? "manage" : "write");
    const wanted = input.maxVersions === undefined ? row.maxVersions : input.maxVersions;
    // null: the workspace's.
    const maxVersions = wanted === null ? null : checkMaxVersions(wanted);
    const next = {
      ...expiryChange(row, input.expiresAt, this.#rows.clock()),
      casRequired: input.casRequired === undefined ? row.casRequired : input.casRequired ? 1 : 0,
      maxVersions,
      deleteVersionAfter: input.deleteVersionAfter === undefined ? row.deleteVersionAfter : checkDeleteAfter(input.deleteVersionAfter),
      customMetadata: input.customMetadata === undefined ? row.customMetadata : JSON.stringify(checkCustomMetadata(input.customMetadata)),
      relayPolicy: input.relayPolicy === undefined ? row.relayPolicy : input.relayPolicy === null ? null : JSON.stringify(checkPolicy(input.relayPolicy)),
      approval: input.approval ?? row.approval,
    };
    await this.#rows.commit(row, (trx) => updateSettings(trx, row.id, { ...next, updatedAt: this.#rows.clock(), updatedBy: ctx.principal.id }));
    return this.metadata(ctx, row.id);
  }
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
    relayPolicy: parsePolicy(row.relayPolicy),
    approval: row.approval as ApprovalSetting,
  };
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
