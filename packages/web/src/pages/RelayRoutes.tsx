/**
 * The workspace's base-URL relay routes: an unchanged SDK pointed at
 * /relay/{workspace}/{route} with a Coffer token as its API key reaches the
 * route's target with the route's header templates filled in. Admins create,
 * edit and delete; members read. Templates hold placeholders, never values.
 */
import type { RelayRoute, RelayRouteInput } from "@coffer/sdk";
import { useState, type FormEvent } from "react";
import { useAction, useLoad } from "../api.ts";
import { Confirm, Dialog, Empty, ErrorNote, Field, Loading, time } from "../components/ui.tsx";
import { useSession } from "../session.tsx";

const ROUTE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

type Editing = { kind: "new" } | { kind: "edit"; route: RelayRoute } | { kind: "delete"; route: RelayRoute } | null;

export function RelayRoutes() {
  const { client, isAdmin, workspace } = useSession();
  const routes = useLoad(() => client.relayRoutes.list(), [client]);
  const [editing, setEditing] = useState<Editing>(null);
  const [notice, setNotice] = useState("");
  const action = useAction();

  const finish = (message: string) => {
    setEditing(null);
    setNotice(message);
    routes.reload();
  };
  const close = () => {
    action.clear();
    setEditing(null);
  };
  const save = (name: string, route: RelayRouteInput) => void action.run(() => client.relayRoutes.put(name, route)).then((saved) => saved && finish(`Saved route ${saved.name}.`));

  return (
    <section aria-labelledby="routes-title">
      <div className="page-head">
        <h1 id="routes-title">Relay routes</h1>
        {isAdmin && (
          <div className="actions">
            <button type="button" className="primary" onClick={() => setEditing({ kind: "new" })}>
              + New route
            </button>
          </div>
        )}
      </div>
      <p className="hint">
        Point an SDK at <code>{`${location.origin}/relay/${workspace}/ROUTE`}</code> with a Coffer token as its API key: Coffer forwards each request to the route's target with the headers below filled in. The secrets they name need a relay
        policy allowing the target.
      </p>
      <p className="status" role="status">
        {notice}
      </p>
      <ErrorNote error={routes.error} />
      {!editing && <ErrorNote error={action.error} />}
      {!routes.data ? (
        !routes.error && <Loading />
      ) : routes.data.length === 0 ? (
        <Empty title="No relay routes">{isAdmin ? "Create one for each API your agents call, e.g. openai → https://api.openai.com." : "Workspace admins create them."}</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Route</th>
                <th scope="col">Target</th>
                <th scope="col">Templates</th>
                <th scope="col">Description</th>
                <th scope="col">Updated</th>
                {isAdmin && (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {routes.data.map((route) => (
                <tr key={route.name}>
                  <th scope="row" data-label="Route">
                    <code>{route.name}</code>
                  </th>
                  <td data-label="Target">
                    <code>{route.target}</code>
                  </td>
                  <td data-label="Templates">
                    <ul className="plain">
                      {Object.entries(route.headers).map(([name, value]) => (
                        <li key={`h:${name}`}>
                          <code>
                            {name}: {value}
                          </code>
                        </li>
                      ))}
                      {Object.entries(route.query).map(([name, value]) => (
                        <li key={`q:${name}`}>
                          <code>
                            ?{name}={value}
                          </code>
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td data-label="Description">{route.description || <span className="muted">—</span>}</td>
                  <td data-label="Updated">{time(route.updatedAt)}</td>
                  {isAdmin && (
                    <td>
                      <span className="actions">
                        <button type="button" aria-label={`Edit route ${route.name}`} onClick={() => setEditing({ kind: "edit", route })}>
                          Edit
                        </button>
                        <button type="button" className="quiet" aria-label={`Delete route ${route.name}`} onClick={() => setEditing({ kind: "delete", route })}>
                          Delete
                        </button>
                      </span>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(editing?.kind === "new" || editing?.kind === "edit") && (
        <RouteDialog route={editing.kind === "edit" ? editing.route : undefined} pending={action.pending} error={action.error} onClose={close} onSave={save} />
      )}
      {editing?.kind === "delete" && (
        <Confirm
          title={`Delete route ${editing.route.name}?`}
          confirm="Delete route"
          danger
          pending={action.pending}
          error={action.error}
          onClose={close}
          onConfirm={() => void action.run(() => client.relayRoutes.delete(editing.route.name).then(() => true)).then((ok) => ok && finish(`Deleted route ${editing.route.name}.`))}
        >
          Programs using <code>/relay/{workspace}/{editing.route.name}</code> get an error from now on.
        </Confirm>
      )}
    </section>
  );
}

type Pair = { name: string; value: string };
const pairsOf = (record: Record<string, string> | undefined): Pair[] => Object.entries(record ?? {}).map(([name, value]) => ({ name, value }));
const recordOf = (pairs: Pair[]): Record<string, string> => Object.fromEntries(pairs.filter((p) => p.name.trim()).map((p) => [p.name.trim(), p.value.trim()]));

function RouteDialog({ route, pending, error, onClose, onSave }: { route: RelayRoute | undefined; pending: boolean; error: unknown; onClose: () => void; onSave: (name: string, route: RelayRouteInput) => void }) {
  const [name, setName] = useState(route?.name ?? "");
  const [target, setTarget] = useState(route?.target ?? "");
  const [description, setDescription] = useState(route?.description ?? "");
  const [headers, setHeaders] = useState<Pair[]>(() => (route ? pairsOf(route.headers) : [{ name: "Authorization", value: "Bearer @{vault.NAME}" }]));
  const [query, setQuery] = useState<Pair[]>(() => pairsOf(route?.query));
  const [problem, setProblem] = useState<string>();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!ROUTE_NAME.test(name)) return setProblem("Route names are lowercase letters, digits and '-', starting with a letter or digit (at most 63).");
    if (!/^https?:\/\/\S+$/.test(target.trim())) return setProblem("The target is a URL starting with https:// (or http://).");
    setProblem(undefined);
    onSave(name, { target: target.trim(), headers: recordOf(headers), query: recordOf(query), description: description.trim() });
  };

  return (
    <Dialog title={route ? `Edit route ${route.name}` : "New relay route"} onClose={onClose} wide>
      <form onSubmit={submit} noValidate className="dialog-body">
        <div className="two">
          <Field label="Route name" hint="Part of the base URL: /relay/WORKSPACE/NAME">
            {(id, note) => <input id={id} aria-describedby={note} data-autofocus={route ? undefined : true} readOnly={Boolean(route)} spellCheck={false} placeholder="openai" value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Target" hint="Where requests go.">
            {(id, note) => <input id={id} aria-describedby={note} data-autofocus={route ? true : undefined} spellCheck={false} placeholder="https://api.openai.com" value={target} onChange={(e) => setTarget(e.target.value)} />}
          </Field>
        </div>
        <Pairs legend="Header templates" hint="Placeholders such as @{vault.openai/api-key} stand for values; never type a value here." pairs={headers} onChange={setHeaders} namePlaceholder="Authorization" valuePlaceholder="Bearer @{vault.NAME}" />
        <Pairs legend="Query templates" pairs={query} onChange={setQuery} namePlaceholder="key" valuePlaceholder="@{vault.NAME}" />
        <Field label="Description (optional)">{(id) => <input id={id} value={description} onChange={(e) => setDescription(e.target.value)} />}</Field>
        <ErrorNote error={problem} />
        <ErrorNote error={error} />
        <footer className="dialog-foot">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={pending}>
            {pending ? "Saving…" : "Save route"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

function Pairs({ legend, hint, pairs, onChange, namePlaceholder, valuePlaceholder }: { legend: string; hint?: string; pairs: Pair[]; onChange: (pairs: Pair[]) => void; namePlaceholder: string; valuePlaceholder: string }) {
  const set = (index: number, change: Partial<Pair>) => onChange(pairs.map((p, i) => (i === index ? { ...p, ...change } : p)));
  return (
    <fieldset className="rows">
      <legend>{legend}</legend>
      {pairs.map((pair, index) => (
        <div className="row" key={index}>
          <input aria-label={`${legend}: name ${index + 1}`} spellCheck={false} placeholder={namePlaceholder} value={pair.name} onChange={(e) => set(index, { name: e.target.value })} />
          <input className="row-value" aria-label={`${legend}: template ${index + 1}`} spellCheck={false} placeholder={valuePlaceholder} value={pair.value} onChange={(e) => set(index, { value: e.target.value })} />
          <button type="button" className="icon" aria-label={`Remove ${legend.toLowerCase()} ${index + 1}`} onClick={() => onChange(pairs.filter((_, i) => i !== index))}>
            ×
          </button>
        </div>
      ))}
      <div className="rows-foot">
        <button type="button" onClick={() => onChange([...pairs, { name: "", value: "" }])}>
          + Add
        </button>
        {hint && <span className="hint">{hint}</span>}
      </div>
    </fieldset>
  );
}
