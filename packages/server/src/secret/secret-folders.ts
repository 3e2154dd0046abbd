/**
 * Browsing a namespace by folder: secret names are '/'-separated paths, and
 * one level of them folds into the folders directly below it, each with how
 * many secrets the caller sees in it. The counts follow the same access rules
 * as the list (a member counts only what was granted to it, a narrowed token
 * only the names it allows), so a folder never reveals a secret by its count.
 */
import type { SecretFolder, SecretFolderLevel } from "@coffer/protocol";
import type { AccessService } from "../access/access.service.ts";
import { invalid } from "../core/errors.ts";
import { atLeast } from "../identity/access.ts";
import { namespaceOf } from "./secret-rows.ts";
import { checkName } from "./secret.rules.ts";
import type { SecretContext, SecretService } from "./secret.service.ts";

export const MAX_FOLDERS = 1000;

export class SecretFolders {
  #secrets: SecretService;
  #access: AccessService;

  constructor(secrets: SecretService, access: AccessService) {
    this.#secrets = secrets;
    this.#access = access;
  }

  /** The folders directly under `prefix` ('' for the top, else a folder ending in '/'), the first `limit` by name. */
  async level(ctx: SecretContext, prefix = "", limit = MAX_FOLDERS): Promise<SecretFolderLevel> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FOLDERS) throw invalid(`limit must be an integer from 1 to ${MAX_FOLDERS}`);
    if (prefix && !prefix.endsWith("/")) throw invalid("prefix is a folder and ends with '/'");
    if (prefix) checkName(prefix.slice(0, -1));
    // As the list does: who sees every name of the namespace reads them all; a member only the ones granted to it.
    const ids = this.#secrets.seesEveryName(ctx) ? undefined : this.#access.grantedSecretIds(ctx.principal, ctx.acl);
    if (ids?.length === 0) return { prefix, folders: [], secrets: 0, truncated: false };
    const ns = namespaceOf(ctx);
    const rows = await this.#secrets.namesUnder(ns, prefix, ids);
    const counts = new Map<string, number>();
    let direct = 0;
    for (const row of rows) {
      if (!atLeast(this.#access.levelOn(ctx.principal, ctx.access, ctx.acl, { id: row.id, name: row.name, scope: ns.scope, ownerId: ns.ownerId }), "see")) continue;
      const slash = row.name.indexOf("/", prefix.length);
      if (slash < 0) direct++;
      else {
        const path = row.name.slice(0, slash + 1);
        counts.set(path, (counts.get(path) ?? 0) + 1);
      }
    }
    // By name, in code point order, so the order is the same on every store.
    const paths = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const folders: SecretFolder[] = paths.slice(0, limit).map((path) => ({ path, secrets: counts.get(path)! }));
    return { prefix, folders, secrets: direct, truncated: paths.length > limit };
  }
}
