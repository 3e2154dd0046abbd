/**
 * The secrets list's state, kept in the URL (`/secrets?view=…&folder=…&sort=…&order=…`)
 * so back, forward, reload and a shared link all show the same list; and its
 * sort orders.
 */
import { secretNameProblem } from "@coffer/protocol";
import type { Summary } from "./api.ts";

export type View = "shared" | "personal" | "deleted";
export type SortKey = "name" | "type" | "label" | "age" | "rotation";
export type Order = "asc" | "desc";

export interface ListState {
  view: View;
  /** The folder shown, ending in '/'; '' is the top. The Deleted view has none. */
  folder: string;
  sort: SortKey;
  order: Order;
}

export const VIEWS: readonly View[] = ["shared", "personal", "deleted"];
export const SORT_KEYS: readonly SortKey[] = ["name", "type", "label", "age", "rotation"];
/** A column's first click: names and words A→Z; age and rotation with the oldest and most urgent first. */
export const FIRST_ORDER: Record<SortKey, Order> = { name: "asc", type: "asc", label: "asc", age: "desc", rotation: "desc" };
const DEFAULT: ListState = { view: "shared", folder: "", sort: "name", order: "asc" };

/** Reads the state from a query string; anything unknown or malformed falls back to the default. */
export function readListState(query: URLSearchParams): ListState {
  const view = VIEWS.find((v) => v === query.get("view")) ?? DEFAULT.view;
  const folder = query.get("folder") ?? "";
  const sort = SORT_KEYS.find((key) => key === query.get("sort")) ?? DEFAULT.sort;
  const order = query.get("order") === "desc" ? "desc" : query.get("order") === "asc" ? "asc" : FIRST_ORDER[sort];
  return { view, folder: view !== "deleted" && isFolder(folder) ? folder : "", sort, order };
}

/** The list's URL for a state; defaults are left out, and a folder's slashes stay readable. */
export function listUrl(state: ListState): string {
  const parts: string[] = [];
  if (state.view !== DEFAULT.view) parts.push(`view=${state.view}`);
  if (state.folder && state.view !== "deleted") parts.push(`folder=${encodeURIComponent(state.folder).replaceAll("%2F", "/")}`);
  if (state.sort !== DEFAULT.sort || state.order !== DEFAULT.order) parts.push(`sort=${state.sort}`, `order=${state.order}`);
  return parts.length ? `/secrets?${parts.join("&")}` : "/secrets";
}

/** The folder a secret sits in ('' at the top). */
export function folderOf(name: string): string {
  return name.slice(0, name.lastIndexOf("/") + 1);
}

/** A folder: a valid secret name followed by '/'. */
export function isFolder(folder: string): boolean {
  return folder.endsWith("/") && secretNameProblem(folder.slice(0, -1)) === undefined;
}

/** Each folder from the top down to `folder`: `a/b/` gives `a/` and `a/b/`. */
export function ancestors(folder: string): string[] {
  const segments = folder.split("/").slice(0, -1);
  return segments.map((_, i) => segments.slice(0, i + 1).join("/") + "/");
}

const URGENCY = { ok: 1, due: 2, overdue: 3 } as const;

/** Names compare by code unit, as the server orders and pages them. */
function byName(a: Summary, b: Summary): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** How far apart two secrets are on a column; ties fall back to the name, A→Z. */
const COLUMNS: Record<SortKey, (a: Summary, b: Summary) => number> = {
  name: byName,
  type: (a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0),
  label: (a, b) => a.label.localeCompare(b.label),
  age: (a, b) => a.ageDays - b.ageDays,
  // No schedule ranks below ok; among equals, the earlier due date is the more urgent.
  rotation: (a, b) => (a.rotation ? URGENCY[a.rotation.status] : 0) - (b.rotation ? URGENCY[b.rotation.status] : 0) || Date.parse(b.rotation?.dueAt ?? "") - Date.parse(a.rotation?.dueAt ?? "") || 0,
};

/** A sorted copy. Secrets without a label stay last in either order: an empty cell tells nothing. */
export function sortSecrets(items: readonly Summary[], sort: SortKey, order: Order): Summary[] {
  const sign = order === "asc" ? 1 : -1;
  return [...items].sort((a, b) => {
    if (sort === "label" && !a.label !== !b.label) return a.label ? -1 : 1;
    return sign * COLUMNS[sort](a, b) || byName(a, b);
  });
}
