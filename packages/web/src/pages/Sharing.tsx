/** Who a shared secret is shared with, at which level; share with a user, group or service account, or stop. */
import { useState, type FormEvent } from "react";
import { LEVELS, useAction, useLoad } from "../api.ts";
import { Empty, ErrorNote, time } from "../components/ui.tsx";
import { useSession } from "../session.tsx";

interface Grant {
  subject: string;
  level: string;
  createdAt: string;
}

const KINDS = [
  { prefix: "group", label: "Group" },
  { prefix: "user", label: "User" },
  { prefix: "sa", label: "Service account" },
];

export function Sharing({ name }: { name: string }) {
  const { client, isAdmin } = useSession();
  const grants = useLoad(() => client.call<{ grants: Grant[] }>("listGrants", { secret: name }).then((r) => r.grants), [client, name]);
  // Suggestions for the name field: the workspace's groups (admins may list them).
  const groups = useLoad(() => (isAdmin ? client.call<{ groups: { name: string }[] }>("listGroups", {}).then((r) => r.groups.map((g) => g.name)) : Promise.resolve([])), [client, isAdmin]);
  const [kind, setKind] = useState("group");
  const [who, setWho] = useState("");
  const [level, setLevel] = useState("read");
  const action = useAction();

  const share = async (event: FormEvent) => {
    event.preventDefault();
    if (!who.trim()) return;
    const ok = await action.run(() => client.secrets.share(name, `${kind}:${who.trim()}`, level as "read").then(() => true));
    if (ok) {
      setWho("");
      grants.reload();
    }
  };
  const stop = (subject: string) => void action.run(() => client.secrets.unshare(name, subject).then(() => true)).then((ok) => ok && grants.reload());

  return (
    <section aria-labelledby="sharing-title" className="sharing">
      <h2 id="sharing-title">Sharing</h2>
      <ErrorNote error={grants.error} />
      {grants.data &&
        (grants.data.length === 0 ? (
          <Empty title="Not shared with anyone">Workspace owners and admins manage it; share it below with a group (or everyone), a user or a service account.</Empty>
        ) : (
          <ul className="grants">
            {grants.data.map((grant) => (
              <li key={grant.subject}>
                <code>{grant.subject}</code>
                <span className="badge">{grant.level}</span>
                <span className="muted">since {time(grant.createdAt)}</span>
                <button type="button" className="quiet" aria-label={`Stop sharing with ${grant.subject}`} onClick={() => stop(grant.subject)}>
                  Stop sharing
                </button>
              </li>
            ))}
          </ul>
        ))}
      <form className="share-form" onSubmit={share}>
        <label>
          <span className="visually-hidden">Share with a</span>
          <select aria-label="Kind of subject" value={kind} onChange={(e) => setKind(e.target.value)}>
            {KINDS.map((k) => (
              <option key={k.prefix} value={k.prefix}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        <input aria-label="Name to share with" placeholder={kind === "group" ? "e.g. everyone" : "name"} list={kind === "group" ? "group-names" : undefined} value={who} onChange={(e) => setWho(e.target.value)} />
        <datalist id="group-names">{groups.data?.map((g) => <option key={g} value={g} />)}</datalist>
        <select aria-label="Level" value={level} onChange={(e) => setLevel(e.target.value)}>
          {LEVELS.map((l) => (
            <option key={l}>{l}</option>
          ))}
        </select>
        <button type="submit" className="primary" disabled={action.pending || !who.trim()}>
          Share
        </button>
      </form>
      <ErrorNote error={action.error} />
      <p className="hint">see: metadata only · use: Coffer uses it for them · read: the value · write: change it · manage: share and destroy.</p>
    </section>
  );
}
