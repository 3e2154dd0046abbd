/** Listing a namespace's secrets: a page of summaries, optionally one folder level deep, never a value. */
import type { SecretSummary } from "@coffer/protocol";
import type { AccessService } from "../access/access.service.ts";
import { invalid } from "../core/errors.ts";
import { atLeast } from "../identity/access.ts";
import { statusAt } from "../rotation/rotation.rules.ts";
import { listNamesUnder, listPage, listSecrets, type ListFilter, type SecretNamespace } from "./secret.repository.ts";
import { checkName } from "./secret.rules.ts";
import { namespaceOf, type SecretRows } from "./secret-rows.ts";
import { firstAtOrAfter, itemOf, type ListedSecret, type RowSummaries, type SummaryCache } from "./secret-summaries.ts";
import type { ListQuery, ListResult, SecretContext } from "./secret.types.ts";

export class SecretLister {
  #rows: SecretRows;
  #access: AccessService;
  /** Undefined when --list-cache is 0. */
  #cache: SummaryCache | undefined;
  /** What pages that go to the store reuse. */
  #summaries: RowSummaries;

  constructor(rows: SecretRows, access: AccessService, cache: SummaryCache | undefined, summaries: RowSummaries) {
    this.#rows = rows;
    this.#access = access;
    this.#cache = cache;
    this.#summaries = summaries;
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
    const now = this.#rows.clock();
    const filter: ListFilter = {
      prefix,
      search: query.search,
      deleted: query.deleted ?? "exclude",
      ids,
      after: query.cursor,
      limit: limit + 1,
      dueAt: query.rotation === "due" ? now : undefined,
    };
    const page = new Page(limit, prefix, query.recursive ?? true, now, query.cursor, (listed) => atLeast(this.#rows.levelOn(ctx, listed), "see"));
    const ns = namespaceOf(ctx);
    const cached = await this.#cache?.entries(ns);
    if (cached) return walk(cached, filter, page);
    const { store } = this.#rows;
    const summaries = this.#summaries;
    const fetch =
      store.dialect.sharedByNodes && filter.ids === undefined && filter.dueAt === undefined
        ? async (after: string | undefined) => (await listPage(store, ns, { ...filter, after })).map((row) => summaries.listedOfPageRow(row, ns))
        : async (after: string | undefined) => (await listSecrets(store.db, ns, { ...filter, after })).map((row) => summaries.listedOf(row));
    // A non-recursive page folds deeper names into folders, so filling it may take several fetches.
    for (;;) {
      const fetched = await fetch(page.after);
      for (const listed of fetched) if (!page.add(listed)) return page.result(true);
      if (fetched.length <= limit) return page.result(false);
    }
  }

  /** The ids and names of a namespace's live secrets under a folder ('' for all), only those of `ids` when given: what folder counts fold. */
  async namesUnder(ns: SecretNamespace, prefix: string, ids: string[] | undefined): Promise<readonly { id: string; name: string }[]> {
    const cached = await this.#cache?.entries(ns);
    if (!cached) return listNamesUnder(this.#rows.store.db, ns, prefix, ids);
    const wanted = ids === undefined ? undefined : new Set(ids);
    const names: ListedSecret[] = [];
    for (let i = firstAtOrAfter(cached, prefix); i < cached.length && cached[i]!.name.startsWith(prefix); i++) {
      const listed = cached[i]!;
      if (listed.deletedAt === null && (wanted === undefined || wanted.has(listed.id))) names.push(listed);
    }
    return names;
  }
}

/** A page being filled from secrets in name order that match the query's filter. */
class Page {
  readonly items: SecretSummary[] = [];
  readonly folders = new Set<string>();
  /** The name the next page starts after. */
  after: string | undefined;
  #limit: number;
  #prefix: string;
  #recursive: boolean;
  #now: number;
  #sees: (listed: ListedSecret) => boolean;

  constructor(limit: number, prefix: string, recursive: boolean, now: number, cursor: string | undefined, sees: (listed: ListedSecret) => boolean) {
    this.#limit = limit;
    this.#prefix = prefix;
    this.#recursive = recursive;
    this.#now = now;
    this.after = cursor;
    this.#sees = sees;
  }

  /** Takes the next matching secret; false when the page is already full. */
  add(listed: ListedSecret): boolean {
    if (this.items.length === this.#limit) return false;
    this.after = listed.name;
    if (!this.#sees(listed)) return true;
    const rest = listed.name.slice(this.#prefix.length);
    const slash = rest.indexOf("/");
    if (!this.#recursive && slash >= 0) this.folders.add(this.#prefix + rest.slice(0, slash + 1));
    else this.items.push(itemOf(listed, this.#now));
    return true;
  }

  result(more: boolean): ListResult {
    return { items: this.items, folders: [...this.folders], nextCursor: more ? (this.after ?? null) : null };
  }
}

/** The page from a namespace's cached summaries: what listSecrets' query selects, in memory. */
function walk(entries: readonly ListedSecret[], filter: ListFilter, page: Page): ListResult {
  const { prefix, after, deleted, dueAt } = filter;
  const search = filter.search ? filter.search.toLowerCase() : undefined;
  const ids = filter.ids === undefined ? undefined : new Set(filter.ids);
  for (let i = firstAtOrAfter(entries, after !== undefined && after > prefix ? after : prefix); i < entries.length; i++) {
    const listed = entries[i]!;
    if (!listed.name.startsWith(prefix)) break;
    if (after !== undefined && listed.name <= after) continue;
    if (deleted === "exclude" ? listed.deletedAt !== null : deleted === "only" && listed.deletedAt === null) continue;
    if (search !== undefined && !listed.lowerName.includes(search)) continue;
    if (ids !== undefined && !ids.has(listed.id)) continue;
    if (dueAt !== undefined && (listed.plan === undefined || statusAt(listed.plan, dueAt) === "ok")) continue;
    if (!page.add(listed)) return page.result(true);
  }
  return page.result(false);
}
