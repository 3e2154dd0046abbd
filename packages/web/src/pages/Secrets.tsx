/**
 * The secrets list: shared, personal or deleted; names browsed as folders
 * (breadcrumbs, a row per folder with its count); searchable; sortable by
 * column; paged by name for workspaces with thousands of secrets. Where it is
 * (view, folder, sort) lives in the URL, so back, forward and reload keep it.
 */
import type { SecretFolderLevel } from "@coffer/sdk";
import { useEffect, useState } from "react";
import { useLoad, type Summary } from "../api.ts";
import { Empty, ErrorNote, Loading, Pager, age, time } from "../components/ui.tsx";
import { Link, navigate, useLocation } from "../router.tsx";
import { ancestors, FIRST_ORDER, listUrl, readListState, SORT_KEYS, sortSecrets, VIEWS, type ListState, type Order, type SortKey, type View } from "../secret-list.ts";
import { useSession } from "../session.tsx";
import { SecretForm } from "./SecretForm.tsx";
import { RotationBadge } from "./SecretPage.tsx";

/** A page when sorted by name, which the server pages by; any other order sorts up to the server's largest page at once. */
const PAGE_SIZE = 50;
const SORT_PAGE_SIZE = 1000;
const DELETED_LIMIT = 1000;

export function secretPath(secret: { scope: string; name: string }): string {
  return `/secrets/${secret.scope}/${encodeURIComponent(secret.name)}`;
}

const VIEW_LABEL: Record<View, string> = { shared: "Shared", personal: "Personal", deleted: "Deleted" };
const SORT_LABEL: Record<SortKey, string> = { name: "Name", type: "Type", label: "Label", age: "Age", rotation: "Rotation" };
const ORDER_WORDS: Record<SortKey, Record<Order, string>> = {
  name: { asc: "A→Z", desc: "Z→A" },
  type: { asc: "A→Z", desc: "Z→A" },
  label: { asc: "A→Z", desc: "Z→A" },
  age: { asc: "newest first", desc: "oldest first" },
  rotation: { asc: "least urgent first", desc: "most urgent first" },
};

interface Listing {
  items: Summary[];
  nextCursor: string | null;
  /** The folder level (shared and personal views, when not searching). */
  level?: SecretFolderLevel;
  /** The deleted view hit its limit in a scope. */
  truncated?: boolean;
}

export function Secrets() {
  const { client, workspace, isAdmin } = useSession();
  const { query: params } = useLocation();
  const state = readListState(params);
  const { view, folder, sort, order } = state;
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  // Cursors of the pages before this one: paging back pops, paging on pushes.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [adding, setAdding] = useState(false);
  const cursor = cursors[cursors.length - 1];
  const pageSize = sort === "name" ? PAGE_SIZE : SORT_PAGE_SIZE;
  const go = (change: Partial<ListState>) => navigate(listUrl({ ...state, ...change }));

  // Search as you type, without a request per keystroke.
  useEffect(() => {
    const timer = setTimeout(() => setQuery(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  useEffect(() => setCursors([undefined]), [query, view, folder, workspace, pageSize]);

  const list = useLoad(async (): Promise<Listing> => {
    if (view === "deleted") {
      // Shared and personal deletions together: each person sees only their own personal ones.
      const pages = await Promise.all(
        (["shared", "personal"] as const).map((scope) =>
          client.call<{ items: Summary[]; nextCursor: string | null }>("listSecrets", {}, { query: { scope, deleted: "only", search: query || undefined, limit: DELETED_LIMIT } }),
        ),
      );
      return { items: pages.flatMap((page) => page.items), nextCursor: null, truncated: pages.some((page) => page.nextCursor) };
    }
    const page = client.call<{ items: Summary[]; nextCursor: string | null }>("listSecrets", {}, {
      // A search looks through every sub-folder; browsing shows one folder level.
      query: { scope: view, prefix: folder || undefined, recursive: query ? undefined : false, search: query || undefined, limit: pageSize, cursor },
    });
    const level = query || cursor ? undefined : client.secrets.folders(folder, { scope: view });
    const [items, levelData] = await Promise.all([page, level]);
    return { ...items, level: levelData };
  }, [client, view, folder, query, cursor, pageSize]);
  const canAdd = view === "personal" || (view === "shared" && isAdmin);
  const items = list.data ? sortSecrets(list.data.items, sort, order) : [];

  return (
    <section aria-labelledby="secrets-title">
      <div className="page-head">
        <h1 id="secrets-title">Secrets</h1>
        {view !== "deleted" && (
          <button type="button" className="primary" disabled={!canAdd} title={canAdd ? undefined : "Only workspace owners and admins add shared secrets"} onClick={() => setAdding(true)}>
            + Add Secret
          </button>
        )}
      </div>
      <div className="toolbar">
        <div role="tablist" aria-label="Which secrets" className="tabs">
          {VIEWS.map((v) => (
            <button key={v} type="button" role="tab" aria-selected={view === v} onClick={() => go({ view: v, folder: "" })}>
              {VIEW_LABEL[v]}
            </button>
          ))}
        </div>
        <input type="search" aria-label="Search secrets by name" placeholder={folder ? `Search in ${folder}…` : "Search by name…"} value={search} onChange={(e) => setSearch(e.target.value)} />
        <label className="sort-select">
          <span>Sort</span>
          <select aria-label="Sort by" value={`${sort}:${order}`} onChange={(e) => go({ sort: e.target.value.split(":")[0] as SortKey, order: e.target.value.split(":")[1] as Order })}>
            {SORT_KEYS.flatMap((key) =>
              (["asc", "desc"] as const).map((o) => (
                <option key={`${key}:${o}`} value={`${key}:${o}`}>
                  {SORT_LABEL[key]}, {ORDER_WORDS[key][o]}
                </option>
              )),
            )}
          </select>
        </label>
      </div>
      {view !== "deleted" && <Breadcrumbs state={state} />}
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : (
        list.data && (
          <SecretTable
            items={items}
            level={list.data.level}
            state={state}
            query={query}
            canAdd={canAdd}
            onAdd={() => setAdding(true)}
            onSort={(key) => go({ sort: key, order: key === sort ? (order === "asc" ? "desc" : "asc") : FIRST_ORDER[key] })}
          />
        )
      )}
      {list.data?.truncated && <p className="hint">Showing the first {DELETED_LIMIT} deleted secrets of each scope: search by name to find others.</p>}
      {list.data && (cursors.length > 1 || list.data.nextCursor) && (
        <Pager
          page={cursors.length - 1}
          hasNext={Boolean(list.data.nextCursor)}
          onPrevious={() => setCursors((c) => c.slice(0, -1))}
          onNext={() => setCursors((c) => [...c, list.data!.nextCursor ?? undefined])}
        />
      )}
      {adding && (
        <SecretForm
          scope={view === "personal" ? "personal" : "shared"}
          initialName={folder}
          onClose={() => setAdding(false)}
          onSaved={(saved) => {
            setAdding(false);
            navigate(secretPath(saved));
          }}
        />
      )}
    </section>
  );
}

/** Where this folder sits: the top, then each folder down to this one (the last is the current page). */
function Breadcrumbs({ state }: { state: ListState }) {
  const trail = ancestors(state.folder);
  return (
    <nav aria-label="Folder" className="breadcrumbs">
      <ol>
        <li>
          {trail.length === 0 ? (
            <span aria-current="page">All {state.view === "personal" ? "personal" : "shared"} secrets</span>
          ) : (
            <Link to={listUrl({ ...state, folder: "" })}>All {state.view === "personal" ? "personal" : "shared"} secrets</Link>
          )}
        </li>
        {trail.map((folder, i) => {
          const segment = folder.slice(0, -1).split("/").at(-1);
          return (
            <li key={folder}>
              {i === trail.length - 1 ? <span aria-current="page">{segment}</span> : <Link to={listUrl({ ...state, folder })}>{segment}</Link>}
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

function SortHeader({ column, state, onSort }: { column: SortKey; state: ListState; onSort: (key: SortKey) => void }) {
  const active = state.sort === column;
  const arrow = active ? (state.order === "asc" ? "↑" : "↓") : "";
  return (
    <th scope="col" aria-sort={active ? (state.order === "asc" ? "ascending" : "descending") : undefined}>
      <button type="button" className="sort" onClick={() => onSort(column)}>
        {SORT_LABEL[column]}
        <span aria-hidden="true" className="arrow">
          {arrow}
        </span>
      </button>
    </th>
  );
}

function SecretTable({ items, level, state, query, canAdd, onAdd, onSort }: {
  items: Summary[];
  level: SecretFolderLevel | undefined;
  state: ListState;
  query: string;
  canAdd: boolean;
  onAdd: () => void;
  onSort: (key: SortKey) => void;
}) {
  const { view, folder } = state;
  const folders = level?.folders ?? [];
  if (items.length === 0 && folders.length === 0) {
    if (query) return <Empty title={`No secret name contains “${query}”`}>{folder ? `Only ${folder} is searched: try a shorter part of the name, or search from the top.` : "Try a shorter part of the name."}</Empty>;
    if (view === "deleted") return <Empty title="No deleted secrets">Deleted secrets, shared and your personal ones, stay here, restorable, until they are destroyed.</Empty>;
    if (folder) return <Empty title={`No secrets in ${folder}`}>They may have been deleted or moved, or none of them is shared with you.</Empty>;
    if (view === "personal")
      return (
        <Empty title="You keep no personal secrets here">
          Personal secrets are yours alone, administrators included.{" "}
          <button type="button" className="link" onClick={onAdd}>
            Add one
          </button>
          .
        </Empty>
      );
    return (
      <Empty title="No shared secrets yet">
        {canAdd ? (
          <>
            <button type="button" className="link" onClick={onAdd}>
              Add the first secret
            </button>{" "}
            here, or import a backup with <code>coffer import</code>.
          </>
        ) : (
          "Nothing is shared with you yet: ask a workspace admin to share a secret with you or your group."
        )}
      </Empty>
    );
  }
  // Folders first, as file browsers list them, in the name order chosen (A→Z for any other column).
  const shownFolders = state.sort === "name" && state.order === "desc" ? [...folders].reverse() : folders;
  const deleted = view === "deleted";
  return (
    <div className="table-wrap">
      <table className="secrets">
        <caption className="visually-hidden">
          {deleted ? "Deleted secrets" : folder ? `Secrets in ${folder}` : "Secrets"}, sorted by {SORT_LABEL[state.sort].toLowerCase()}, {ORDER_WORDS[state.sort][state.order]}
        </caption>
        <thead>
          <tr>
            <SortHeader column="name" state={state} onSort={onSort} />
            <SortHeader column="type" state={state} onSort={onSort} />
            <SortHeader column="label" state={state} onSort={onSort} />
            <th scope="col">Keys</th>
            <SortHeader column="age" state={state} onSort={onSort} />
            {deleted ? <th scope="col">Deleted</th> : <SortHeader column="rotation" state={state} onSort={onSort} />}
          </tr>
        </thead>
        <tbody>
          {shownFolders.map((sub) => (
            <tr key={sub.path} className="folder-row">
              <th scope="row" data-label="Folder">
                <Link to={listUrl({ ...state, folder: sub.path })} aria-label={`Folder ${sub.path.slice(folder.length)}, ${count(sub.secrets)}`}>
                  <span className="folder-icon" aria-hidden="true" />
                  {sub.path.slice(folder.length)}
                </Link>
              </th>
              <td className="folder-count" colSpan={5} data-label="Holds">
                {count(sub.secrets)}
              </td>
            </tr>
          ))}
          {items.map((secret) => (
            <tr key={secret.id}>
              <th scope="row" data-label="Name">
                <Link to={secretPath(secret)}>{query || deleted ? secret.name : secret.name.slice(folder.length)}</Link>
                {deleted && secret.scope === "personal" && <span className="badge">personal</span>}
              </th>
              <td data-label="Type">
                <span className="type">{secret.type}</span>
              </td>
              <td data-label="Label">{secret.label || <span className="muted">—</span>}</td>
              <td data-label="Keys">
                <Keys keys={secret.keys} />
              </td>
              <td data-label="Age">{age(secret.ageDays)}</td>
              {deleted ? (
                <td data-label="Deleted">{time(secret.deletedAt)}</td>
              ) : (
                <td data-label="Rotation">
                  <RotationBadge rotation={secret.rotation} />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function count(secrets: number): string {
  return secrets === 1 ? "1 secret" : `${secrets} secrets`;
}

export function Keys({ keys, max = 4 }: { keys: string[]; max?: number }) {
  const shown = keys.slice(0, max);
  return (
    <span className="keys">
      {shown.map((key) => (
        <code key={key} className="key">
          {key}
        </code>
      ))}
      {keys.length > max && <span className="muted">+{keys.length - max}</span>}
    </span>
  );
}
