/** The secrets list: shared or personal, searchable, paged by name for workspaces with thousands of secrets. */
import { useEffect, useState } from "react";
import { useLoad, type Summary } from "../api.ts";
import { Empty, ErrorNote, Loading, Pager, age } from "../components/ui.tsx";
import { Link, navigate } from "../router.tsx";
import { useSession } from "../session.tsx";
import { SecretForm } from "./SecretForm.tsx";
import { RotationBadge } from "./SecretPage.tsx";

const PAGE_SIZE = 50;
type View = "shared" | "personal" | "deleted";

export function secretPath(secret: { scope: string; name: string }): string {
  return `/secrets/${secret.scope}/${encodeURIComponent(secret.name)}`;
}

export function Secrets() {
  const { client, workspace, isAdmin } = useSession();
  const [view, setView] = useState<View>("shared");
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  // Cursors of the pages before this one: paging back pops, paging on pushes.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [adding, setAdding] = useState(false);
  const cursor = cursors[cursors.length - 1];

  // Search as you type, without a request per keystroke.
  useEffect(() => {
    const timer = setTimeout(() => setQuery(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  useEffect(() => setCursors([undefined]), [query, view, workspace]);

  const list = useLoad(
    () =>
      client.call<{ items: Summary[]; nextCursor: string | null }>("listSecrets", {}, {
        query: {
          scope: view === "personal" ? "personal" : "shared",
          deleted: view === "deleted" ? "only" : undefined,
          search: query || undefined,
          limit: PAGE_SIZE,
          cursor,
        },
      }),
    [client, view, query, cursor],
  );
  const canAdd = view === "personal" || (view === "shared" && isAdmin);

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
          {(["shared", "personal", "deleted"] as const).map((v) => (
            <button key={v} type="button" role="tab" aria-selected={view === v} onClick={() => setView(v)}>
              {v === "shared" ? "Shared" : v === "personal" ? "Personal" : "Deleted"}
            </button>
          ))}
        </div>
        <input type="search" aria-label="Search secrets by name" placeholder="Search by name…" value={search} onChange={(e) => setSearch(e.target.value)} />
      </div>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Loading /> : list.data && <SecretTable items={list.data.items} view={view} query={query} canAdd={canAdd} onAdd={() => setAdding(true)} />}
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

function SecretTable({ items, view, query, canAdd, onAdd }: { items: Summary[]; view: View; query: string; canAdd: boolean; onAdd: () => void }) {
  if (items.length === 0) {
    if (query) return <Empty title={`No secret name contains “${query}”`}>Try a shorter part of the name.</Empty>;
    if (view === "deleted") return <Empty title="No deleted secrets">Deleted secrets stay here, restorable, until they are destroyed.</Empty>;
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
  return (
    <div className="table-wrap">
      <table className="secrets">
        <caption className="visually-hidden">Secrets, sorted by name</caption>
        <thead>
          <tr>
            <th scope="col" aria-sort="ascending">
              Name ↑
            </th>
            <th scope="col">Type</th>
            <th scope="col">Label</th>
            <th scope="col">Keys</th>
            <th scope="col">Age</th>
            <th scope="col">Rotation</th>
          </tr>
        </thead>
        <tbody>
          {items.map((secret) => (
            <tr key={secret.id}>
              <th scope="row" data-label="Name">
                <Link to={secretPath(secret)}>{secret.name}</Link>
              </th>
              <td data-label="Type">
                <span className="type">{secret.type}</span>
              </td>
              <td data-label="Label">{secret.label || <span className="muted">—</span>}</td>
              <td data-label="Keys">
                <Keys keys={secret.keys} />
              </td>
              <td data-label="Age">{age(secret.ageDays)}</td>
              <td data-label="Rotation">
                <RotationBadge rotation={secret.rotation} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
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
