/**
 * What a list shows of a secret, built once per row version instead of once
 * per request: the key names and tags parsed, the times formatted, and the
 * item's JSON kept beside it while its age in days stays the same.
 *
 * The summaries of a namespace are also kept in memory, in name order, so a
 * page is a binary search and a walk rather than a query: every secret write
 * marks its secret stale, and the next list reloads the stale rows before it
 * answers. On a store several nodes share, another node's write reaches this
 * node's change feed only some time after it was answered, and a list must
 * show what was written before it was asked: a list there first waits for
 * the feed's barrier (store/changes.ts), after which every change committed
 * before it is marked. Where the cache cannot answer (a namespace larger
 * than it holds, a feed not listening) a list goes to the store, and there
 * the summaries are kept by secret and reused while the store returns the
 * row they were built from.
 */
import type { SecretScope, SecretSummary } from "@coffer/protocol";
import { Cache } from "../core/cache.ts";
import { planOf, type RotationPlan } from "../rotation/rotation.rules.ts";
import type { Store } from "../store/store.ts";
import { listAllSummaries, PAGE_COLUMNS, type PageRow, type SecretNamespace, type SummaryRow } from "./secret.repository.ts";
import { ageDays, summaryAt, summaryBase, type SummaryBase } from "./secret-rows.ts";
import type { ListResult } from "./secret.types.ts";

/** The summaries the cache holds across namespaces unless the server is told otherwise (--list-cache). */
export const DEFAULT_LIST_CACHE_SECRETS = 20_000;
/** More stale secrets than this in one namespace: reloading the namespace is cheaper than patching it. */
const PATCH_MAX = 200;

/** One version of one secret as lists show it. */
export interface ListedSecret {
  readonly id: string;
  readonly name: string;
  /** The name in lower case: what a search matches. */
  readonly lowerName: string;
  readonly scope: SecretScope;
  readonly ownerId: string;
  readonly deletedAt: number | null;
  readonly plan: RotationPlan | undefined;
  readonly versionCreatedAt: number;
  readonly base: SummaryBase;
  /** The item last answered, reused while its age stays the same; never when a schedule applies (its status moves with the clock). */
  last?: SecretSummary;
}

export function listedOf(row: SummaryRow): ListedSecret {
  return {
    id: row.id,
    name: row.name,
    lowerName: row.name.toLowerCase(),
    scope: row.scope as SecretScope,
    ownerId: row.ownerId,
    deletedAt: row.deletedAt,
    plan: planOf(row.intervalDays, row.versionCreatedAt),
    versionCreatedAt: row.versionCreatedAt,
    base: summaryBase(row, JSON.parse(row.keys), row.versionCreatedAt),
  };
}

/** The summary of `listed` at `now`. */
export function itemOf(listed: ListedSecret, now: number): SecretSummary {
  if (listed.last !== undefined && listed.last.ageDays === ageDays(listed.versionCreatedAt, now)) return listed.last;
  const item = summaryAt(listed.base, listed.versionCreatedAt, now, listed.plan);
  if (!listed.plan) listed.last = item;
  return item;
}

/** Items serialised once, as long as the item object lives (a cached one lives as long as its row version and age). */
const itemJson = new WeakMap<SecretSummary, string>();

/**
 * The list response as JSON: an item's text is made once and reused by every
 * page that shows it. Items are built field by field from the stored row
 * (listedOf, itemOf), so they hold exactly the fields of the SecretSummary schema.
 */
export function listJson(result: ListResult): string {
  let items = "";
  for (const item of result.items) {
    let json = itemJson.get(item);
    if (json === undefined) {
      json = JSON.stringify(item);
      itemJson.set(item, json);
    }
    items += items.length === 0 ? json : "," + json;
  }
  return `{"items":[${items}],"folders":${JSON.stringify(result.folders)},"nextCursor":${JSON.stringify(result.nextCursor)}}`;
}

/**
 * Summaries by secret id, reused while the row a page's query returns is the
 * row they were built from, column for column: how lists that go to the
 * store skip rebuilding what did not change. Oldest-inserted out first.
 */
export class RowSummaries {
  #held: Cache<string, { row: SummaryRow; listed: ListedSecret }>;

  constructor(capacity: number) {
    this.#held = new Cache(capacity);
  }

  listedOf(row: SummaryRow): ListedSecret {
    const held = this.#held.get(row.id);
    if (held !== undefined && sameRow(held.row, row)) return held.listed;
    return this.#hold(row);
  }

  /** listedOf() for a row of listPage, in namespace `ns`: an object is made only for a row not held. */
  listedOfPageRow(columns: PageRow, ns: SecretNamespace): ListedSecret {
    const held = this.#held.get(columns[0]);
    if (held !== undefined && samePageRow(held.row, columns)) return held.listed;
    const row = { scope: ns.scope, ownerId: ns.ownerId } as Record<string, unknown>;
    PAGE_COLUMNS.forEach((column, i) => (row[column] = columns[i]));
    return this.#hold(row as SummaryRow);
  }

  #hold(row: SummaryRow): ListedSecret {
    const listed = listedOf(row);
    // Nothing invalidates these (a changed row is told by its columns): the epoch is always current.
    this.#held.set(row.id, { row, listed }, this.#held.epoch);
    return listed;
  }
}

function sameRow(a: SummaryRow, b: SummaryRow): boolean {
  for (const column in b) if (a[column as keyof SummaryRow] !== b[column as keyof SummaryRow]) return false;
  return true;
}

/** Whether a held row has the values of a listPage row (whose namespace columns are those the page was asked for). */
function samePageRow(row: SummaryRow, columns: PageRow): boolean {
  for (let i = 0; i < PAGE_COLUMNS.length; i++) if (row[PAGE_COLUMNS[i]!] !== columns[i]) return false;
  return true;
}

interface Space {
  /** Every secret of the namespace, deleted ones too, in name order. */
  entries: ListedSecret[];
  loaded: boolean;
  /** More secrets than the whole cache may hold: lists of this namespace go to the store. */
  tooLarge: boolean;
  /** Secrets written since their entries were loaded. */
  stale: Set<string>;
  /** The load or reload running now, and how many have started. */
  busy: Promise<void> | undefined;
  rounds: number;
}

function keyOf(ns: SecretNamespace): string {
  return `${ns.workspaceId}\u0000${ns.scope}\u0000${ns.ownerId}`;
}

/** The namespaces' summaries in memory; bounded by the number of summaries held, least recently listed namespace out first. */
export class SummaryCache {
  #store: Store;
  #capacity: number;
  /** In order of last use: a Map keeps insertion order, and a use re-inserts. */
  #spaces = new Map<string, Space>();

  constructor(store: Store, capacity: number) {
    this.#store = store;
    this.#capacity = capacity;
    store.changes.subscribe((change) => {
      if (change.kind === "secret") this.#spaces.get(keyOf(change))?.stale.add(change.id);
      // Workspace settings hold the rotation defaults the schedules were computed from.
      else if (change.kind === "workspace") this.#dropWorkspace(change.id);
      else if (change.kind === "all") this.#spaces.clear();
    });
  }

  /**
   * The namespace's summaries in name order, with every write answered
   * before this call; undefined when the namespace is too large to hold, or
   * another node's writes may not all have been marked yet.
   */
  async entries(ns: SecretNamespace): Promise<readonly ListedSecret[] | undefined> {
    if (this.#store.dialect.sharedByNodes) {
      try {
        await this.#store.changes.barrier();
      } catch {
        return undefined;
      }
    }
    const key = keyOf(ns);
    let space = this.#spaces.get(key);
    if (space) this.#spaces.delete(key);
    else space = { entries: [], loaded: false, tooLarge: false, stale: new Set(), busy: undefined, rounds: 0 };
    this.#spaces.set(key, space);
    // One (re)load at a time, each reloading what was stale when it started. A
    // list waits for one that started after it was asked (which sees every
    // write answered before), or finds nothing stale, or runs one itself.
    const arrival = space.rounds;
    for (;;) {
      if (space.busy) {
        const round = space.rounds;
        const done = await space.busy.then(
          () => true,
          () => false,
        );
        if (done && round > arrival) break;
        continue;
      }
      if (space.loaded && space.stale.size === 0) break;
      space.rounds++;
      const busy = this.#refresh(ns, space);
      space.busy = busy;
      try {
        await busy;
      } finally {
        space.busy = undefined;
      }
      this.#evict(key);
      break;
    }
    return space.tooLarge ? undefined : space.entries;
  }

  async #refresh(ns: SecretNamespace, space: Space): Promise<void> {
    const ids = [...space.stale];
    // Writes committed from here on are marked stale again and reloaded by the next list.
    space.stale.clear();
    try {
      await this.#reload(ns, space, ids);
    } catch (error) {
      // Whatever was stale stays stale: the next list tries again.
      for (const id of ids) space.stale.add(id);
      throw error;
    }
  }

  async #reload(ns: SecretNamespace, space: Space, ids: string[]): Promise<void> {
    if (!space.loaded || ids.length > PATCH_MAX) {
      const rows = await listAllSummaries(this.#store.db, ns);
      space.tooLarge = rows.length > this.#capacity;
      space.entries = space.tooLarge ? [] : rows.map(listedOf).sort(byName);
      space.loaded = true;
      return;
    }
    if (space.tooLarge) return;
    const rows = await listAllSummaries(this.#store.db, ns, ids);
    const changed = new Set(ids);
    const entries = space.entries.filter((entry) => !changed.has(entry.id));
    for (const row of rows) entries.splice(firstAtOrAfter(entries, row.name), 0, listedOf(row));
    space.entries = entries;
  }

  #evict(keep: string): void {
    let held = 0;
    for (const space of this.#spaces.values()) held += space.entries.length + 1;
    for (const [key, space] of this.#spaces) {
      if (held <= this.#capacity) break;
      if (key === keep) continue;
      this.#spaces.delete(key);
      held -= space.entries.length + 1;
    }
  }

  #dropWorkspace(workspaceId: string): void {
    const prefix = `${workspaceId}\u0000`;
    for (const key of this.#spaces.keys()) if (key.startsWith(prefix)) this.#spaces.delete(key);
  }
}

function byName(a: ListedSecret, b: ListedSecret): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The index of the first entry whose name is `name` or after it (entries in name order). */
export function firstAtOrAfter(entries: readonly ListedSecret[], name: string): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (entries[mid]!.name < name) low = mid + 1;
    else high = mid;
  }
  return low;
}
