/** Workspace settings (versions kept, rate limits, rotation defaults) and, for administrators, seal and key status. */
import { useEffect, useState, type FormEvent } from "react";
import { OPTIONAL, isMissingRoute, useAction, useFeatures, useLoad, type Workspace } from "../api.ts";
import { ErrorNote, Field, Loading, time } from "../components/ui.tsx";
import { useSession } from "../session.tsx";

export function Settings() {
  const { client, session } = useSession();
  const features = useFeatures();
  const workspace = useLoad(() => client.call<Workspace>("readWorkspace", {}), [client]);
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <ErrorNote error={workspace.error} />
      {workspace.data ? <WorkspaceSettings workspace={workspace.data} onSaved={workspace.reload} /> : <Loading />}
      {features?.has(OPTIONAL.rotationDefaults) && <RotationDefaults />}
      {session.user.admin && features?.has(OPTIONAL.sealStatus) && <Seal />}
      {session.user.admin && <Keys />}
    </section>
  );
}

function WorkspaceSettings({ workspace, onSaved }: { workspace: Workspace; onSaved: () => void }) {
  const { client } = useSession();
  const [maxVersions, setMaxVersions] = useState(String(workspace.maxVersions));
  const [reads, setReads] = useState(String(workspace.rateLimits?.readsPerSecond ?? ""));
  const [writes, setWrites] = useState(String(workspace.rateLimits?.writesPerSecond ?? ""));
  const [saved, setSaved] = useState(false);
  const action = useAction();
  useEffect(() => setSaved(false), [maxVersions, reads, writes]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = {
      maxVersions: Number(maxVersions),
      ...(workspace.rateLimits ? { rateLimits: { readsPerSecond: Number(reads), writesPerSecond: Number(writes) } } : {}),
    };
    if (await action.run(() => client.call("updateWorkspace", {}, { body }))) {
      setSaved(true);
      onSaved();
    }
  };
  return (
    <form className="card settings" onSubmit={submit}>
      <h2>Workspace {workspace.name}</h2>
      <Field label="Versions kept per secret" hint="Older versions are pruned; roll back reaches only the kept ones.">
        {(id, note) => <input id={id} aria-describedby={note} type="number" min={1} value={maxVersions} onChange={(e) => setMaxVersions(e.target.value)} />}
      </Field>
      {workspace.rateLimits && (
        <div className="two">
          <Field label="Reads per second">{(id) => <input id={id} type="number" min={1} value={reads} onChange={(e) => setReads(e.target.value)} />}</Field>
          <Field label="Writes per second">{(id) => <input id={id} type="number" min={1} value={writes} onChange={(e) => setWrites(e.target.value)} />}</Field>
        </div>
      )}
      <ErrorNote error={action.error} />
      <div className="form-foot">
        <button type="submit" className="primary" disabled={action.pending}>
          Save settings
        </button>
        <span role="status">{saved ? "Saved." : ""}</span>
      </div>
    </form>
  );
}

interface Default {
  label: string;
  intervalDays: number;
}

function RotationDefaults() {
  const { client } = useSession();
  const [rows, setRows] = useState<{ label: string; days: string }[]>([{ label: "", days: "90" }]);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const current = useLoad(() => client.call<{ defaults: Default[] }>("rotationDefaults", {}), [client]);
  useEffect(() => setSaved(false), [rows]);
  useEffect(() => {
    const defaults = current.data?.defaults;
    if (defaults?.length) setRows(defaults.map((d) => ({ label: d.label, days: String(d.intervalDays) })));
  }, [current.data]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const defaults: Default[] = rows.filter((r) => r.label.trim()).map((r) => ({ label: r.label.trim(), intervalDays: Number(r.days) }));
    setSaved(Boolean(await action.run(() => client.call(OPTIONAL.rotationDefaults, {}, { body: { defaults } }).then(() => true))));
  };
  const set = (i: number, change: Partial<{ label: string; days: string }>) => setRows((all) => all.map((row, j) => (j === i ? { ...row, ...change } : row)));
  return (
    <form className="card settings" onSubmit={submit}>
      <h2>Rotation defaults</h2>
      <p className="muted">Secrets with a label rotate on this schedule unless they set their own.</p>
      {rows.map((row, i) => (
        <div className="two" key={i}>
          <label>
            Label
            <input value={row.label} onChange={(e) => set(i, { label: e.target.value })} placeholder="prod" />
          </label>
          <label>
            Every (days)
            <input type="number" min={1} value={row.days} onChange={(e) => set(i, { days: e.target.value })} />
          </label>
        </div>
      ))}
      <ErrorNote error={current.error ?? action.error} />
      <div className="form-foot">
        <button type="button" onClick={() => setRows((all) => [...all, { label: "", days: "90" }])}>
          + Add label
        </button>
        <button type="submit" className="primary" disabled={action.pending}>
          Save defaults
        </button>
        <span role="status">{saved ? "Saved." : ""}</span>
      </div>
    </form>
  );
}

function Seal() {
  const { client } = useSession();
  const seal = useLoad(() => client.call<{ sealed: boolean; type: string; initialized: boolean; threshold: number; shares: number; progress: number }>(OPTIONAL.sealStatus, {}), [client]);
  if (isMissingRoute(seal.error)) return null;
  return (
    <div className="card settings">
      <h2>Seal</h2>
      <ErrorNote error={seal.error} />
      {seal.data && (
        <p>
          {seal.data.sealed ? <span className="badge warn">sealed</span> : <span className="badge ok">unsealed</span>}
          {seal.data.type === "shamir" ? ` · root key in ${seal.data.shares} Shamir shares, ${seal.data.threshold} unseal` : ` · root key from the ${seal.data.type === "env" ? "COFFER_ROOT_KEY variable" : "key file"}`}
          {seal.data.sealed && ` · unseal progress ${seal.data.progress}/${seal.data.threshold}`}
        </p>
      )}
    </div>
  );
}

interface KeyStatus {
  keyVersion: number;
  keys: { version: number; createdAt: string; secretVersions: number }[];
  rewrap: { state: string; done: number; total: number; error: string | null };
}

function Keys() {
  const { client } = useSession();
  const status = useLoad(() => client.call<KeyStatus>("keyStatus", {}), [client]);
  const action = useAction();
  const running = status.data?.rewrap.state === "running";
  const { reload } = status;
  // While a re-wrap runs, its progress is polled once a second.
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(reload, 1000);
    return () => clearInterval(timer);
  }, [running, reload]);
  return (
    <div className="card settings">
      <h2>Encryption keys</h2>
      <ErrorNote error={status.error ?? action.error} />
      {status.data && (
        <>
          <p>
            New writes use data key version <strong>{status.data.keyVersion}</strong>. Re-wrap: {status.data.rewrap.state}
            {status.data.rewrap.total > 0 && ` (${status.data.rewrap.done}/${status.data.rewrap.total})`}.
          </p>
          <ul className="plain">
            {status.data.keys.map((k) => (
              <li key={k.version}>
                v{k.version}: {k.secretVersions} secret versions, created {time(k.createdAt)}
              </li>
            ))}
          </ul>
          <button type="button" disabled={running || action.pending} onClick={() => void action.run(() => client.call("rotateKey", {})).then((r) => r && status.reload())}>
            Rotate the data key
          </button>
          <p className="hint">Adds a key version and re-wraps every stored version under it, online.</p>
        </>
      )}
    </div>
  );
}
