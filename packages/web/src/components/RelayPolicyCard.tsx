/**
 * The "Relay" card of a secret's page: where Coffer may send the value on a
 * caller's behalf (hosts, schemes, ports, methods, and the places in a
 * request it may go). Those with manage edit or remove it; everyone else
 * reads it. A secret without a policy is never relayed.
 */
import type { RelayPolicy, RelayPolicyInput, SecretScope } from "@coffer/sdk";
import { useState, type FormEvent } from "react";
import { useAction, useLoad } from "../api.ts";
import { useSession } from "../session.tsx";
import { Confirm, Dialog, Empty, ErrorNote, Field } from "./ui.tsx";

export function RelayPolicyCard({ name, scope, canManage }: { name: string; scope: SecretScope; canManage: boolean }) {
  const { client } = useSession();
  const metadata = useLoad(() => client.secrets.metadata(name, { scope }), [client, name, scope]);
  const [editing, setEditing] = useState<"edit" | "remove" | null>(null);
  const [notice, setNotice] = useState("");
  const action = useAction();
  const current = metadata.data ? (metadata.data.relayPolicy ?? null) : undefined;
  // The placeholder callers write: a one-key secret by its name, others by name and key.
  const keys = metadata.data?.keys ?? [];
  const placeholder = keys.length === 1 ? `@{vault.${name}}` : `@{vault.${name}.${keys[0] ?? "KEY"}}`;

  const save = async (next: RelayPolicyInput | null, message: string) => {
    const saved = await action.run(() => client.call("updateMetadata", { secret: name }, { query: { scope }, body: { relayPolicy: next } }).then(() => true));
    if (!saved) return;
    setEditing(null);
    setNotice(message);
    metadata.reload();
  };
  const close = () => {
    action.clear();
    setEditing(null);
  };

  return (
    <section aria-labelledby="relay-title" className="relay-card">
      <div className="card-head">
        <h2 id="relay-title">Relay</h2>
        {canManage && current !== undefined && (
          <span className="actions">
            <button type="button" onClick={() => setEditing("edit")}>
              {current ? "Edit policy" : "Set a policy"}
            </button>
            {current && (
              <button type="button" className="quiet" onClick={() => setEditing("remove")}>
                Remove policy
              </button>
            )}
          </span>
        )}
      </div>
      <p className="status" role="status">
        {notice}
      </p>
      <ErrorNote error={metadata.error} />
      {current === null && <Empty title="No relay policy">Coffer never sends this value anywhere on a caller's behalf.</Empty>}
      {current && <PolicyView policy={current} />}
      <p className="hint">
        With a policy, callers holding <em>use</em> have Coffer make HTTP calls with <code>{placeholder}</code> in them (<code>coffer relay</code>, the SDK's <code>relay</code> and <code>fetch</code>), and never see the value.
      </p>
      {editing === "edit" && <PolicyDialog initial={current ?? null} pending={action.pending} error={action.error} onClose={close} onSave={(next) => void save(next, "Relay policy saved.")} />}
      {editing === "remove" && (
        <Confirm title="Remove the relay policy?" confirm="Remove policy" danger pending={action.pending} error={action.error} onClose={close} onConfirm={() => void save(null, "Relay policy removed.")}>
          Relayed calls that use this secret are refused from now on.
        </Confirm>
      )}
    </section>
  );
}

function PolicyView({ policy }: { policy: RelayPolicy }) {
  const listed = (values: (string | number)[], none: string) => (values.length ? values.join(", ") : <span className="muted">{none}</span>);
  return (
    <dl className="meta" aria-label="Relay policy">
      <dt>Hosts</dt>
      <dd>{listed(policy.hosts, "none")}</dd>
      <dt>Schemes</dt>
      <dd>{listed(policy.schemes, "https")}</dd>
      <dt>Ports</dt>
      <dd>{listed(policy.ports, "the scheme's default")}</dd>
      <dt>Methods</dt>
      <dd>{listed(policy.methods, "any")}</dd>
      <dt>In headers</dt>
      <dd>{listed(policy.headers, "none")}</dd>
      <dt>In query</dt>
      <dd>{listed(policy.query, "none")}</dd>
      <dt>In body</dt>
      <dd>{policy.body ? "yes" : "no"}</dd>
      <dt>Private addresses</dt>
      <dd>{listed(policy.addresses, "none (public addresses only)")}</dd>
    </dl>
  );
}

const words = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter(Boolean);

function PolicyDialog({ initial, pending, error, onClose, onSave }: { initial: RelayPolicy | null; pending: boolean; error: unknown; onClose: () => void; onSave: (policy: RelayPolicyInput) => void }) {
  const [hosts, setHosts] = useState(initial?.hosts.join(", ") ?? "");
  const [schemes, setSchemes] = useState<string[]>(initial?.schemes ?? ["https"]);
  const [ports, setPorts] = useState(initial?.ports.join(", ") ?? "");
  const [methods, setMethods] = useState(initial?.methods.join(", ") ?? "");
  const [headers, setHeaders] = useState(initial?.headers.join(", ") ?? "");
  const [query, setQuery] = useState(initial?.query.join(", ") ?? "");
  const [body, setBody] = useState(initial?.body ?? false);
  const [addresses, setAddresses] = useState(initial?.addresses.join(", ") ?? "");
  const [problem, setProblem] = useState<string>();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const portList = words(ports).map(Number);
    if (words(hosts).length === 0) return setProblem("Name at least one host.");
    if (schemes.length === 0) return setProblem("Allow https, http or both.");
    if (portList.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) return setProblem("Ports are numbers from 1 to 65535.");
    setProblem(undefined);
    onSave({
      hosts: words(hosts),
      schemes,
      ports: portList,
      methods: words(methods).map((m) => m.toUpperCase()),
      headers: words(headers),
      query: words(query),
      body,
      addresses: words(addresses),
    });
  };
  const toggle = (scheme: string, on: boolean) => setSchemes((list) => (on ? [...list.filter((s) => s !== scheme), scheme] : list.filter((s) => s !== scheme)));

  return (
    <Dialog title="Relay policy" onClose={onClose} wide>
      <form onSubmit={submit} noValidate className="dialog-body">
        <Field label="Hosts" hint="Exact names, or *.example.com for its subdomains; separate with commas.">
          {(id, note) => <input id={id} aria-describedby={note} data-autofocus spellCheck={false} placeholder="api.openai.com" value={hosts} onChange={(e) => setHosts(e.target.value)} />}
        </Field>
        <fieldset className="rows">
          <legend>Schemes</legend>
          {["https", "http"].map((scheme) => (
            <label key={scheme} className="check">
              <input type="checkbox" checked={schemes.includes(scheme)} onChange={(e) => toggle(scheme, e.target.checked)} /> {scheme}
            </label>
          ))}
        </fieldset>
        <div className="two">
          <Field label="Ports" hint="Empty: the scheme's default port only.">
            {(id, note) => <input id={id} aria-describedby={note} inputMode="numeric" placeholder="443" value={ports} onChange={(e) => setPorts(e.target.value)} />}
          </Field>
          <Field label="Methods" hint="Empty: any method.">
            {(id, note) => <input id={id} aria-describedby={note} spellCheck={false} placeholder="GET, POST" value={methods} onChange={(e) => setMethods(e.target.value)} />}
          </Field>
        </div>
        <div className="two">
          <Field label="Headers" hint="Request headers the value may go in.">
            {(id, note) => <input id={id} aria-describedby={note} spellCheck={false} placeholder="Authorization" value={headers} onChange={(e) => setHeaders(e.target.value)} />}
          </Field>
          <Field label="Query parameters" hint="Query parameters the value may go in.">
            {(id, note) => <input id={id} aria-describedby={note} spellCheck={false} placeholder="key" value={query} onChange={(e) => setQuery(e.target.value)} />}
          </Field>
        </div>
        <label className="check">
          <input type="checkbox" checked={body} onChange={(e) => setBody(e.target.checked)} /> The value may go in the request body
        </label>
        <Field label="Private addresses" hint="Loopback, private or link-local IPs or CIDRs the hosts may resolve to; refused otherwise.">
          {(id, note) => <input id={id} aria-describedby={note} spellCheck={false} placeholder="10.0.0.0/8" value={addresses} onChange={(e) => setAddresses(e.target.value)} />}
        </Field>
        <ErrorNote error={problem} />
        <ErrorNote error={error} />
        <footer className="dialog-foot">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={pending}>
            {pending ? "Saving…" : "Save policy"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
