/** The audit log with filters, its chain check, and the workspace's alerts (where the server has them). */
import type { AuditEventJson as AuditEvent } from "@coffer/protocol";
import { useState, type FormEvent } from "react";
import { OPTIONAL, isMissingRoute, useAction, useFeatures, useLoad } from "../api.ts";
import { Empty, ErrorNote, Loading, time } from "../components/ui.tsx";
import { useSession } from "../session.tsx";


const FILTERS = ["actor", "secret", "action", "outcome", "from", "to"] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

export function Audit() {
  const features = useFeatures();
  if (!features) return <Loading />;
  if (!features.has(OPTIONAL.audit)) {
    return (
      <section>
        <h1>Audit log</h1>
        <Empty title="This server has no audit log yet">Upgrade the server to see who did what, when.</Empty>
      </section>
    );
  }
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      {features.has(OPTIONAL.alerts) && <Alerts />}
      <AuditLog canVerify={features.has(OPTIONAL.auditVerify)} />
    </section>
  );
}

function AuditLog({ canVerify }: { canVerify: boolean }) {
  const { client, current } = useSession();
  const [draft, setDraft] = useState<Filters>({});
  const [filters, setFilters] = useState<Filters>({});
  const [pages, setPages] = useState<AuditEvent[][]>([]);
  const [next, setNext] = useState<number>();
  // A page of events older than `before` (newest first); the answer's `next` is the cursor for the page after.
  const fetchPage = (before?: number) =>
    client.call<{ events: AuditEvent[]; next?: number }>(OPTIONAL.audit, {}, { query: { workspace: current?.id, ...isoDates(filters), limit: 100, before } });
  const first = useLoad(async () => {
    const page = await fetchPage();
    setPages([page.events]);
    setNext(page.next);
    return true;
  }, [client, current?.id, filters]);
  const more = useAction();
  const verify = useAction();
  const [verdict, setVerdict] = useState<string>();

  const apply = (event: FormEvent) => {
    event.preventDefault();
    // The last filter's events go at once, not when (or if) the new ones arrive.
    setPages([]);
    setNext(undefined);
    setFilters(Object.fromEntries(Object.entries(draft).filter(([, v]) => v)));
  };
  const loadMore = () =>
    void more.run(async () => {
      const page = await fetchPage(next);
      setPages((all) => [...all, page.events]);
      setNext(page.next);
    });
  const check = () =>
    void verify.run(async () => {
      const result = await client.call<{ ok: boolean; checked: number; problem?: { seq: number; reason: string } }>(OPTIONAL.auditVerify, {});
      setVerdict(result.ok ? `Intact: ${result.checked} events checked.` : `Broken at event ${result.problem?.seq}: ${result.problem?.reason}`);
    });
  const events = pages.flat();

  return (
    <>
      <form className="filters" onSubmit={apply} aria-label="Filter the audit log">
        {FILTERS.map((name) => (
          <label key={name}>
            {name}
            {name === "outcome" ? (
              <select value={draft.outcome ?? ""} onChange={(e) => setDraft({ ...draft, outcome: e.target.value })}>
                <option value="">any</option>
                {["ok", "denied", "not_found", "error"].map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            ) : (
              <input
                type={name === "from" || name === "to" ? "datetime-local" : "text"}
                value={draft[name] ?? ""}
                placeholder={name === "action" ? "secret.read" : undefined}
                onChange={(e) => setDraft({ ...draft, [name]: e.target.value })}
              />
            )}
          </label>
        ))}
        <button type="submit" className="primary">
          Filter
        </button>
        {canVerify && (
          <button type="button" onClick={check} disabled={verify.pending}>
            Verify chain
          </button>
        )}
      </form>
      <p role="status">{verdict}</p>
      <ErrorNote error={verify.error} />
      <ErrorNote error={isMissingRoute(first.error) ? undefined : first.error} />
      {first.loading && events.length === 0 ? (
        <Loading />
      ) : events.length === 0 ? (
        <Empty title="No events match">Change or clear the filters.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="audit">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
                <th scope="col">Target</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.seq}>
                  <td data-label="Time">{time(e.time)}</td>
                  <td data-label="Actor">{e.actor.name ?? e.actor.id ?? e.actor.kind}</td>
                  <td data-label="Action">
                    <code>{e.action}</code>
                  </td>
                  <td data-label="Outcome">
                    <span className={`badge outcome-${e.outcome}`}>{e.outcome}</span>
                  </td>
                  <td data-label="Target">{e.secretName ?? e.subject ?? "—"}</td>
                  <td data-label="From">{e.ip}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorNote error={more.error} />
      {next && (
        <button type="button" onClick={loadMore} disabled={more.pending}>
          Load older events
        </button>
      )}
    </>
  );
}

function isoDates(filters: Filters): Filters {
  const out = { ...filters };
  for (const key of ["from", "to"] as const) if (out[key]) out[key] = new Date(out[key]!).toISOString();
  return out;
}

function Alerts() {
  const { client } = useSession();
  const alerts = useLoad(() => client.call<{ alerts: { id: string; time: string; type: string; message: string }[] }>(OPTIONAL.alerts, {}).then((r) => r.alerts), [client]);
  if (isMissingRoute(alerts.error) || !alerts.data?.length) return null;
  return (
    <div className="card alerts" role="region" aria-label="Alerts">
      <h2>Alerts</h2>
      <ul className="plain">
        {alerts.data.map((a) => (
          <li key={a.id}>
            <span className="badge warn">{a.type}</span> {a.message} <span className="muted">{time(a.time)}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
