/** A secret's version history: listing it, and soft-deleting, undeleting and destroying versions. */
import type { SecretVersionInfo } from "@coffer/protocol";
import { invalid } from "../core/errors.ts";
import { MAX_VERSIONS_LIMIT } from "../workspace/workspace.service.ts";
import { destroyVersions, listVersions, setVersionsDeleted, type SecretRow } from "./secret.repository.ts";
import type { SecretRows } from "./secret-rows.ts";
import type { SecretContext } from "./secret.types.ts";

export class SecretVersions {
  #rows: SecretRows;

  constructor(rows: SecretRows) {
    this.#rows = rows;
  }

  async versions(ctx: SecretContext, ref: string): Promise<SecretVersionInfo[]> {
    const row = await this.#rows.authorizedRow(ctx, ref, "see", { allowDeleted: true });
    return this.versionsOf(row);
  }

  /** Soft-deletes some versions (default: the current one); they can be undeleted. Versions that do not exist are ignored, as in Vault. */
  async deleteVersions(ctx: SecretContext, ref: string, versions?: number[]): Promise<SecretVersionInfo[]> {
    const row = await this.#rows.authorizedRow(ctx, ref, "write");
    const chosen = checkVersions(versions ?? [row.currentVersion]);
    await this.#rows.commit(row, (trx) => setVersionsDeleted(trx, row.id, chosen, this.#rows.clock()));
    return this.versionsOf(row);
  }

  async undeleteVersions(ctx: SecretContext, ref: string, versions: number[]): Promise<SecretVersionInfo[]> {
    const row = await this.#rows.authorizedRow(ctx, ref, "write");
    const chosen = checkVersions(versions);
    await this.#rows.commit(row, (trx) => setVersionsDeleted(trx, row.id, chosen, null));
    return this.versionsOf(row);
  }

  /** Wipes some versions' values for good; their metadata stays. */
  async destroyVersions(ctx: SecretContext, ref: string, versions: number[]): Promise<SecretVersionInfo[]> {
    const row = await this.#rows.authorizedRow(ctx, ref, "manage");
    const chosen = checkVersions(versions);
    await this.#rows.commit(row, (trx) => destroyVersions(trx, row.id, chosen, this.#rows.clock()));
    return this.versionsOf(row);
  }

  async versionsOf(row: SecretRow): Promise<SecretVersionInfo[]> {
    const rows = await listVersions(this.#rows.store.db, row.id);
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
}

function checkVersions(versions: number[]): number[] {
  if (versions.length === 0 || versions.length > MAX_VERSIONS_LIMIT || !versions.every((v) => Number.isInteger(v) && v >= 1)) {
    throw invalid(`versions is a list of 1 to ${MAX_VERSIONS_LIMIT} version numbers`);
  }
  return [...new Set(versions)];
}
