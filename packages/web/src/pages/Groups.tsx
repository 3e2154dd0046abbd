/** Groups and their members: share a secret with a group once instead of with each person. */
import { useState, type FormEvent } from "react";
import { useAction, useLoad } from "../api.ts";
import { ConfirmButton, Empty, ErrorNote, Loading } from "../components/ui.tsx";
import { useSession } from "../session.tsx";

interface Group {
  id: string;
  name: string;
  builtin: boolean;
  members: string[];
}

export function Groups() {
  const { client } = useSession();
  const groups = useLoad(() => client.call<{ groups: Group[] }>("listGroups", {}).then((r) => r.groups), [client]);
  const [name, setName] = useState("");
  const action = useAction();
  const act = (fn: () => Promise<unknown>) => void action.run(() => fn().then(() => true)).then((ok) => ok && groups.reload());

  const create = (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) return;
    act(async () => {
      await client.call("createGroup", {}, { body: { name: name.trim() } });
      setName("");
    });
  };

  return (
    <section aria-labelledby="groups-title">
      <h1 id="groups-title">Groups</h1>
      <form className="inline-form" onSubmit={create}>
        <label>
          New group
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="devs" />
        </label>
        <button type="submit" className="primary" disabled={action.pending || !name.trim()}>
          Create group
        </button>
      </form>
      <ErrorNote error={groups.error ?? action.error} />
      {!groups.data ? (
        <Loading />
      ) : groups.data.length === 0 ? (
        <Empty title="No groups yet">Create one above, then share secrets with it.</Empty>
      ) : (
        <ul className="cards">
          {groups.data.map((group) => (
            <GroupCard key={group.id} group={group} act={act} />
          ))}
        </ul>
      )}
    </section>
  );
}

function GroupCard({ group, act }: { group: Group; act: (fn: () => Promise<unknown>) => void }) {
  const { client } = useSession();
  const [member, setMember] = useState("");
  const add = (event: FormEvent) => {
    event.preventDefault();
    const subject = member.includes(":") ? member.trim() : `user:${member.trim()}`;
    if (member.trim()) act(async () => {
      await client.call("addGroupMember", { group: group.name, member: subject });
      setMember("");
    });
  };
  return (
    <li className="card">
      <div className="card-head">
        <h2>{group.name}</h2>
        {group.builtin ? (
          <span className="badge">built-in: every member</span>
        ) : (
          <ConfirmButton label="Delete" ariaLabel={`Delete group ${group.name}`} title={`Delete group ${group.name}?`} confirm="Delete group" onConfirm={() => act(() => client.call("deleteGroup", { group: group.name }))}>
            Every secret shared with this group stops being shared with its members.
          </ConfirmButton>
        )}
      </div>
      {group.members.length === 0 ? (
        <p className="muted">No members.</p>
      ) : (
        <ul className="chips">
          {group.members.map((m) => (
            <li key={m}>
              <code>{m}</code>
              {!group.builtin && (
                <button type="button" className="icon" aria-label={`Remove ${m} from ${group.name}`} onClick={() => act(() => client.call("removeGroupMember", { group: group.name, member: m }))}>
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {!group.builtin && (
        <form className="inline-form" onSubmit={add}>
          <input aria-label={`Add a member to ${group.name}`} placeholder="username or sa:NAME" value={member} onChange={(e) => setMember(e.target.value)} />
          <button type="submit" disabled={!member.trim()}>
            Add
          </button>
        </form>
      )}
    </li>
  );
}
