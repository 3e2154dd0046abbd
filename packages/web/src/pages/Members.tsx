/** Workspace members and their roles (owners and admins). */
import { WORKSPACE_ROLES } from "@coffer/protocol";
import { useState, type FormEvent } from "react";
import { useAction, useLoad } from "../api.ts";
import { ConfirmButton, Empty, ErrorNote, Loading } from "../components/ui.tsx";
import { useSession } from "../session.tsx";


interface Member {
  userId: string;
  username: string;
  role: string;
  disabled: boolean;
  personalSecrets: number;
}

export function Members() {
  const { client, session } = useSession();
  const members = useLoad(() => client.call<{ members: Member[] }>("listMembers", {}).then((r) => r.members), [client]);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState("member");
  const action = useAction();
  const act = (fn: () => Promise<unknown>) => void action.run(() => fn().then(() => true)).then((ok) => ok && members.reload());

  const add = (event: FormEvent) => {
    event.preventDefault();
    if (!username.trim()) return;
    act(async () => {
      await client.call("setMember", { user: username.trim() }, { body: { role } });
      setUsername("");
    });
  };

  return (
    <section aria-labelledby="members-title">
      <h1 id="members-title">Members</h1>
      <p className="muted">Owners and admins manage every shared secret; viewers see shared metadata; members see what is shared with them or their groups.</p>
      <form className="inline-form" onSubmit={add}>
        <label>
          Username
          <input value={username} onChange={(e) => setUsername(e.target.value)} placeholder="alice" />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            {WORKSPACE_ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={action.pending || !username.trim()}>
          Add member
        </button>
      </form>
      {session.user.admin && (
        <p className="hint">
          New people need a user first: <code>coffer users create NAME</code> and <code>coffer users passwd NAME</code>.
        </p>
      )}
      <ErrorNote error={members.error ?? action.error} />
      {!members.data ? (
        <Loading />
      ) : members.data.length === 0 ? (
        <Empty title="No members yet">Add a user above.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Personal secrets</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.userId}>
                  <td data-label="User">
                    {m.username} {m.disabled && <span className="badge warn">disabled</span>}
                  </td>
                  <td data-label="Role">
                    <select aria-label={`Role of ${m.username}`} value={m.role} onChange={(e) => act(() => client.call("setMember", { user: m.username }, { body: { role: e.target.value } }))}>
                      {WORKSPACE_ROLES.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  </td>
                  <td data-label="Personal secrets">{m.personalSecrets}</td>
                  <td>
                    <ConfirmButton label="Remove" ariaLabel={`Remove ${m.username}`} title={`Remove ${m.username} from this workspace?`} confirm="Remove member" onConfirm={() => act(() => client.call("removeMember", { user: m.username }))}>
                      Their group memberships and grants here go; their personal secrets stay until you delete them.
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
