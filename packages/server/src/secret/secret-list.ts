/** Listing a namespace's secrets: a page of summaries, optionally one folder level deep, never a value. */
import type { SecretSummary } from "@coffer/protocol";
import type { AccessService } from "../access/access.service.ts";
import { invalid } from "../core/errors.ts";
import { atLeast } from "../identity/access.ts";
import { planOf } from "../rotation/rotation.rules.ts";
import { listSecrets } from "./secret.repository.ts";
import { checkName } from "./secret.rules.ts";
import { namespaceOf, summarize, type SecretRows } from "./secret-rows.ts";
import type { ListQuery, ListResult, SecretContext } from "./secret.types.ts";

export class SecretLister {
  #rows: SecretRows;
  #access: AccessService;

  constructor(rows: SecretRows, access: AccessService) {
    this.#rows = rows;
    this.#access = access;
  }

  async list(ctx: SecretContext, query: ListQuery): Promise<ListResult> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid("limit must be an integer from 1 to 1000");
    const prefix = query.prefix ?? "";
    if (prefix && !prefix.endsWith("/")) throw invalid("prefix is a folder and ends with '/'");
    if (prefix) checkName(prefix.slice(0, -1));
    // Who sees every name of the namespace (admins, viewers, the owner of personal secrets), and who only what was granted.
    const seesAll = atLeast(this.#rows.namespaceLevel(ctx), "see");
    const ids = seesAll ? undefined : this.#access.grantedSecretIds(ctx.principal, ctx.acl);
    if (ids?.length === 0) return { items: [], folders: [], nextCursor: null };
    const recursive = query.recursive ?? true;
    const ns = namespaceOf(ctx);
    const now = this.#rows.clock();
    const items: SecretSummary[] = [];
    const folders = new Set<string>();
    let after = query.cursor;
    // A non-recursive page folds deeper names into folders, so filling it may take several fetches.
    for (;;) {
      const rows = await listSecrets(this.#rows.store.db, ns, {
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
        if (!atLeast(this.#rows.levelOn(ctx, { ...row, ownerId: namespaceOf(ctx).ownerId }), "see")) continue;
        const rest = row.name.slice(prefix.length);
        const slash = rest.indexOf("/");
        if (!recursive && slash >= 0) folders.add(prefix + rest.slice(0, slash + 1));
        else items.push(summarize(row, JSON.parse(row.keys), row.versionCreatedAt, now, planOf(row.intervalDays, row.versionCreatedAt)));
      }
      if (rows.length <= limit) return { items, folders: [...folders], nextCursor: null };
    }
  }
}
